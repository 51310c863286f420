"""What the REST transports share (chat, chat/stream, talk/stream): the conversation a request
continues, with one HTTP answer for each lookup failure ("Conversation not found" is a 404 everywhere)."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions

from bots.models import Bot
from conversations import services
from conversations.models import Conversation


class ConversationUnavailable(exceptions.APIException):
    """A conversation id the request cannot use, as `{"detail": ...}` with the lookup's status."""

    def __init__(self, error: services.ConversationLookupError) -> None:
        self.status_code = error.status
        super().__init__(detail=str(error), code="not_found" if error.status == 404 else "invalid")


def conversation_or_error(*, bot: Bot, conversation_id: Any, test_flag: bool) -> Conversation:
    try:
        return services.conversation_for_bot(
            bot=bot, conversation_id=conversation_id, test_flag=test_flag, channel=Conversation.Channel.REST
        )
    except services.ConversationLookupError as exc:
        raise ConversationUnavailable(exc) from exc
