"""One turn at a time per conversation, whatever the entry point (two Studio tabs, the REST API and a
widget on the same conversation), across processes: the lock lives in the Django cache, which is Redis
when REDIS_URL is set. A holder that dies without releasing frees it after VOICEBOT_TURN_LOCK_SECONDS."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.cache import cache

BUSY_MESSAGE = "Another turn is already running in this conversation; try again when it has finished."


def _key(conversation_id: Any) -> str:
    return f"engine:turn:{conversation_id}"


async def acquire(conversation_id: Any) -> str | None:
    """Take the lock; returns the holder's token, or None when another turn holds it."""
    token = uuid.uuid4().hex
    taken = await cache.aadd(_key(conversation_id), token, timeout=settings.VOICEBOT_TURN_LOCK_SECONDS)
    return token if taken else None


async def release(conversation_id: Any, token: str) -> None:
    """Give the lock back, unless it expired and another turn holds it now."""
    if await cache.aget(_key(conversation_id)) == token:
        await cache.adelete(_key(conversation_id))
