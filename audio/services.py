"""Lookups the voice transports share (talk socket, talk/stream, mic loop). Sync ORM code: call
through `sync_to_async` from async code."""

from __future__ import annotations

import uuid

from bots.models import Bot
from conversations.models import Conversation
from conversations.services import conversation_start


class ConversationLookupError(LookupError):
    """A client-supplied conversation id that cannot be used; the message is shown to the client."""


def bot_get(bot_id: uuid.UUID | str) -> Bot | None:
    return Bot.objects.select_related("openai_key").filter(pk=bot_id).first()


def conversation_for_turn(*, bot: Bot, conversation_id: str | None, test_flag: bool) -> tuple[Conversation, bool]:
    """The conversation a turn continues (by explicit id, as in the reference) or a new one.

    Returns (conversation, created)."""
    if conversation_id:
        try:
            wanted = uuid.UUID(str(conversation_id))
        except ValueError as exc:
            raise ConversationLookupError("Invalid conversation_id") from exc
        conversation = Conversation.objects.select_related("bot").filter(pk=wanted).first()
        if conversation is None:
            raise ConversationLookupError("Conversation not found")
        if conversation.bot_id != bot.pk:
            raise ConversationLookupError("Conversation does not belong to bot")
        return conversation, False
    conversation = conversation_start(bot=bot, test_flag=test_flag)
    conversation.bot = bot
    return conversation, True
