"""One turn at a time per conversation, whatever the entry point (two Studio tabs, the REST API, a
widget and a phone call on the same conversation), across processes: the lock lives in the Django
cache, which is Redis when REDIS_URL is set. A holder that dies without releasing frees it after
VOICEBOT_TURN_LOCK_SECONDS.

Messages that arrive while a turn runs wait in line instead of being dropped (`wait_for_turn`):
- in one process, waiters are served first come, first served (an `asyncio.Lock` per conversation is
  FIFO, and a message takes its place in it before any cache round trip), which keeps one socket's
  quick messages in the order they were sent; they count themselves in that order too, so the one
  refused over the bound is the last one sent;
- across processes, a waiter polls the cache lock, so two messages sent to two processes at the same
  instant are ordered by who polls first; a message from one sender is never reordered;
- the line is bounded (VOICEBOT_TURN_QUEUE_MAX waiting behind the running turn, counted in the cache so
  the bound holds across processes) and so is the wait (VOICEBOT_TURN_QUEUE_WAIT_SECONDS): over either
  bound the caller gets `QueueFull` / `TurnWaitTimeout`, which transports send as a clear error.

This is the only lock module of the project: the conversation session takes it for every transport,
and `run_turn` called directly (tests, benchmarks, scripts) takes it without waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache

BUSY_MESSAGE = "Another turn is already running in this conversation; try again when it has finished."
QUEUE_FULL_MESSAGE = "Too many messages are waiting in this conversation; wait for the answers, then send again."
WAIT_TIMEOUT_MESSAGE = "The previous answer took too long; please send your message again."
_POLL_FIRST_S = 0.02
_POLL_MAX_S = 0.25


class QueueFull(Exception):
    """More messages are waiting behind the running turn than VOICEBOT_TURN_QUEUE_MAX."""


class TurnWaitTimeout(Exception):
    """The turn ahead did not finish within VOICEBOT_TURN_QUEUE_WAIT_SECONDS."""


def _key(conversation_id: Any) -> str:
    return f"engine:turn:{conversation_id}"


def _waiting_key(conversation_id: Any) -> str:
    return f"engine:turn-waiting:{conversation_id}"


async def acquire(conversation_id: Any) -> str | None:
    """Take the lock now; returns the holder's token, or None when another turn holds it."""
    token = uuid.uuid4().hex
    taken = await cache.aadd(_key(conversation_id), token, timeout=settings.VOICEBOT_TURN_LOCK_SECONDS)
    return token if taken else None


_released: dict[str, None] = {}  # tokens this process gave back lately (a second release is free)
_RELEASED_KEEP = 4096


async def release(conversation_id: Any, token: str) -> None:
    """Give the lock back, unless it expired and another turn holds it now."""
    if token in _released:  # the session released before its final `done`; the block's end again
        return
    if await cache.aget(_key(conversation_id)) == token:
        await cache.adelete(_key(conversation_id))
    _released[token] = None
    if len(_released) > _RELEASED_KEEP:
        del _released[next(iter(_released))]


@dataclass
class _LocalLine:
    """The waiters of one conversation in this process and event loop."""

    lock: asyncio.Lock
    users: int = 0
    counted: asyncio.Future[None] | None = None  # set when the last joiner has counted itself


@dataclass
class _Place:
    line: _LocalLine
    head: asyncio.Future[bool]  # done when this message is first in the process's line


_lines: dict[tuple[int, str], _LocalLine] = {}


@contextlib.asynccontextmanager
async def _place_in_line(conversation_id: Any) -> AsyncIterator[_Place]:
    """Take this message's place in the process's line before anything else is awaited, and yield
    the future that completes when the place reaches the head; leave the line when the block ends.

    The place is taken first because the cache hops that follow (counting the waiters, polling the
    lock) run in threads and on the network and finish in any order: a message that counted itself
    before entering the line could overtake the one sent before it (seen under Redis)."""
    ident = (id(asyncio.get_running_loop()), str(conversation_id))
    line = _lines.get(ident)
    if line is None:
        line = _lines[ident] = _LocalLine(asyncio.Lock())
    line.users += 1
    if not line.lock.locked():
        await line.lock.acquire()  # free: taken without yielding to the loop
        head: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        head.set_result(True)
    else:
        head = asyncio.ensure_future(line.lock.acquire())  # asyncio.Lock serves its waiters in order
    try:
        yield _Place(line, head)
    finally:
        if head.done() and not head.cancelled() and head.exception() is None:
            line.lock.release()
        else:
            head.cancel()  # still waiting: Lock.acquire hands a grant it got meanwhile to the next
        line.users -= 1
        if line.users == 0 and _lines.get(ident) is line:
            del _lines[ident]


def _count_waiting_sync(conversation_id: Any, delta: int) -> int:
    # One thread hop for add+incr: the cache's async `aincr` is a get and a set (not atomic), while
    # `incr` is atomic on LocMem and Redis.
    key = _waiting_key(conversation_id)
    timeout = settings.VOICEBOT_TURN_QUEUE_WAIT_SECONDS + settings.VOICEBOT_TURN_LOCK_SECONDS
    if delta > 0 and cache.add(key, delta, timeout=timeout):
        return delta
    try:
        return cache.incr(key, delta)
    except ValueError:  # expired meanwhile
        if delta > 0:
            cache.add(key, delta, timeout=timeout)
        return max(delta, 0)


_count_waiting = sync_to_async(_count_waiting_sync, thread_sensitive=False)


async def _count_in_line_order(place: _Place, conversation_id: Any) -> int:
    """Count this message as waiting once the messages ahead of it in this process have counted
    themselves: the round trips would otherwise finish in any order, and the message refused over
    the bound would be whichever counted last, not the last one sent."""
    line = place.line
    previous, mine = line.counted, asyncio.get_running_loop().create_future()
    line.counted = mine
    try:
        if previous is not None:
            await asyncio.shield(previous)
        return await _count_waiting(conversation_id, 1)
    finally:
        if not mine.done():
            mine.set_result(None)


@contextlib.asynccontextmanager
async def wait_for_turn(conversation_id: Any) -> AsyncIterator[str]:
    """Wait in line for the conversation's lock and hold it for the block; yields the owner token.

    Raises QueueFull at once when the line is full, TurnWaitTimeout when the wait is over its bound.
    The lock is released when the block ends (or earlier through `release(conversation_id, token)`,
    which the session does just before it sends the final `done`).
    """
    alone = (id(asyncio.get_running_loop()), str(conversation_id)) not in _lines
    async with _place_in_line(conversation_id) as place:
        if alone:
            # Nobody in this process waits for or runs this conversation: try the lock at once, and
            # count this message as waiting only when another process holds it. The usual turn so
            # costs one cache command instead of five (docs/performance.md).
            token = await acquire(conversation_id)
            if token is None:
                waiting = await _count_waiting(conversation_id, 1)
                try:
                    if waiting > settings.VOICEBOT_TURN_QUEUE_MAX:  # the lock is held: see below
                        raise QueueFull(QUEUE_FULL_MESSAGE)
                    token = await _poll(conversation_id)
                finally:
                    await _count_waiting(conversation_id, -1)
        else:
            waiting = await _count_in_line_order(place, conversation_id)
            try:
                # The running turn is not waiting; `waiting` counts this message and those ahead of it.
                if waiting > settings.VOICEBOT_TURN_QUEUE_MAX + 1 or (
                    waiting > settings.VOICEBOT_TURN_QUEUE_MAX and await cache.aget(_key(conversation_id)) is not None
                ):
                    raise QueueFull(QUEUE_FULL_MESSAGE)
                await place.head
                token = await _poll(conversation_id)
            finally:
                await _count_waiting(conversation_id, -1)
        try:
            yield token
        finally:
            await release(conversation_id, token)


async def _poll(conversation_id: Any) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.VOICEBOT_TURN_QUEUE_WAIT_SECONDS
    pause = _POLL_FIRST_S
    while True:
        token = await acquire(conversation_id)
        if token is not None:
            return token
        if loop.time() >= deadline:
            raise TurnWaitTimeout(WAIT_TIMEOUT_MESSAGE)
        await asyncio.sleep(pause)
        pause = min(pause * 2, _POLL_MAX_S)
