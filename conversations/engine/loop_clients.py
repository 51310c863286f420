"""Clients that belong to one event loop and are closed with it.

An HTTP client's connection pool is tied to the loop that opened it. The engine keeps one SDK client
per key and loop, and sync callers (Celery tasks, management commands, async_to_sync) drive it on
short-lived loops. Before this module a finished loop left its clients open: their sockets stayed
until garbage collection, which then logged "Unclosed client session" (and, at interpreter exit,
buried a test run's summary under tracebacks).

The loop offers no close callback, but `asyncio.run` and asgiref's loops call `shutdown_asyncgens()`
before closing; an async generator started on the loop is closed there, and its `finally` closes the
clients while the loop can still run their shutdown. Evicted clients are closed on the spot.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Callable, Hashable
from typing import Any, Generic, Protocol, TypeVar


class _Closable(Protocol):
    async def close(self) -> Any: ...


C = TypeVar("C", bound=_Closable)


class _LoopClients(Generic[C]):
    """One loop's clients, their closer generator, and the close tasks still running."""

    def __init__(self) -> None:
        self.clients: dict[Hashable, C] = {}
        self.closer: AsyncIterator[None] | None = None
        self.pending: set[asyncio.Task[Any]] = set()


async def _close_all(clients: list[_Closable]) -> None:
    await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)


class LoopScopedClients(Generic[C]):
    """A bounded per-loop cache: `get(key, build)` returns this loop's client for `key`, building it
    on first use; the oldest client beyond `max_per_loop` is closed, and all close with the loop."""

    def __init__(self, max_per_loop: int) -> None:
        self._max = max_per_loop
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClients[C]] = weakref.WeakKeyDictionary()

    def get(self, key: Hashable, build: Callable[[], C]) -> C:
        loop = asyncio.get_running_loop()
        entry = self._loops.get(loop)
        if entry is None:
            entry = self._loops[loop] = _LoopClients()
            self._close_with_loop(loop, entry)
        client = entry.clients.get(key)
        if client is None:
            if len(entry.clients) >= self._max:
                evicted = entry.clients.pop(next(iter(entry.clients)))
                self._spawn(loop, entry, _close_all([evicted]))
            client = entry.clients[key] = build()
        return client

    def _close_with_loop(self, loop: asyncio.AbstractEventLoop, entry: _LoopClients[C]) -> None:
        async def closer() -> AsyncIterator[None]:
            try:
                yield
            finally:
                clients, entry.clients = list(entry.clients.values()), {}
                await _close_all(clients)

        entry.closer = closer()  # held here: the loop tracks started generators only weakly

        async def start() -> None:
            await entry.closer.__anext__()  # type: ignore[union-attr]

        self._spawn(loop, entry, start())

    @staticmethod
    def _spawn(loop: asyncio.AbstractEventLoop, entry: _LoopClients[C], coro: Any) -> None:
        task = loop.create_task(coro)
        entry.pending.add(task)
        task.add_done_callback(entry.pending.discard)
