"""A per-process cache of loaded models: each loads once (even when many requests ask at the same
time), the least recently used is dropped when the cache is full, and loading happens in whatever
thread calls `get` (callers on the event loop use `asyncio.to_thread`).

Process-local by design: models are memory, not shared state; every daphne process loads its own.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class ModelCache(Generic[T]):
    def __init__(self, max_size: Callable[[], int]) -> None:
        self._max_size = max_size
        self._items: OrderedDict[Hashable, T] = OrderedDict()
        self._loading: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, load: Callable[[], T]) -> T:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:  # one loader per key; the others wait and reuse its result
            with self._lock:
                if key in self._items:
                    return self._items[key]
            value = load()
            with self._lock:
                self._items[key] = value
                self._loading.pop(key, None)
                while len(self._items) > max(1, self._max_size()):
                    self._items.popitem(last=False)
            return value

    def cached_keys(self) -> list[Hashable]:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
