"""The bot lookup the voice transports share (talk socket, talk/stream, mic loop); conversations are
looked up by `conversations.services.conversation_for_bot`, one rule for every transport. Sync ORM code: call
through `sync_to_async` from async code."""

from __future__ import annotations

import uuid

from bots.models import Bot


def bot_get(bot_id: uuid.UUID | str) -> Bot | None:
    return Bot.objects.select_related("openai_key").filter(pk=bot_id).first()
