"""Rate limits of the public socket, kept in the Django cache (the one-turn-at-a-time lock is the
conversation session's: conversations/engine/turn_lock.py).

With REDIS_URL set the cache is Redis, so every server process sees the same counters; the
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


async def arate_limit_exceeded(scope: str, ident: str, limit: int, *, now: float | None = None) -> bool:
    """`rate_limit_exceeded` through the cache's async API: the project's caches (bots.cache_backends)
    answer it on the event loop, so the socket's per-message check needs no database-thread hop."""
    bucket = int((now if now is not None else time.time()) // WINDOW_SECONDS)
    name = f"embed:rate:{scope}:{ident}:{bucket}"
    if await cache.aadd(name, 1, timeout=WINDOW_SECONDS + 5):
        return limit < 1
    try:
        count = await cache.aincr(name)
    except ValueError:  # expired between add and incr
        await cache.aadd(name, 1, timeout=WINDOW_SECONDS + 5)
        count = 1
    return count > limit
