"""Rate limits and the one-turn-at-a-time lock of the public socket, kept in the Django cache.

With REDIS_URL set the cache is Redis, so every daphne process sees the same counters and locks; the
embedded default (local memory) holds for the one process it serves. Fixed one-minute windows are
enough here: they bound spend per key and per conversation, they are not a billing meter.
"""

from __future__ import annotations

import time

from django.core.cache import cache

WINDOW_SECONDS = 60


def rate_limit_exceeded(scope: str, ident: str, limit: int, *, now: float | None = None) -> bool:
    """Count one message for (scope, ident) in the current minute; True when it is over `limit`."""
    bucket = int((now if now is not None else time.time()) // WINDOW_SECONDS)
    name = f"embed:rate:{scope}:{ident}:{bucket}"
    if cache.add(name, 1, timeout=WINDOW_SECONDS + 5):
        return limit < 1
    try:
        count = cache.incr(name)
    except ValueError:  # expired between add and incr
        cache.add(name, 1, timeout=WINDOW_SECONDS + 5)
        count = 1
    return count > limit


def turn_lock_acquire(conversation_id: str, *, seconds: int) -> bool:
    """Take the conversation's turn lock; False when another socket (any process) holds it.

    The timeout frees a lock whose holder died without releasing it.
    """
    return bool(cache.add(f"embed:turn:{conversation_id}", 1, timeout=seconds))


def turn_lock_release(conversation_id: str) -> None:
    cache.delete(f"embed:turn:{conversation_id}")


# The socket takes and frees the lock around every turn. These touch only the cache, so they use its
# async API rather than a database hop (channels' `database_sync_to_async` also closes the thread's
# database connection around each call, which the next query then has to reopen).
async def turn_lock_acquire_async(conversation_id: str, *, seconds: int) -> bool:
    return bool(await cache.aadd(f"embed:turn:{conversation_id}", 1, timeout=seconds))


async def turn_lock_release_async(conversation_id: str) -> None:
    await cache.adelete(f"embed:turn:{conversation_id}")
