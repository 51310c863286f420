"""A per-process cache of loaded models: each loads once (even when many requests ask at the same
time), the least recently used is dropped when the cache is full, and loading happens in whatever
thread calls `get` (callers on the event loop use `asyncio.to_thread`).

`EngineRegistry` puts one in front of an engine table (name -> factory): the ASR and TTS registries
are two of them, each over the engine names of `bots.engines` (the one list, checked at import).

Process-local by design: models are memory, not shared state; every daphne process loads its own.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

from django.conf import settings

from observability import observe

T = TypeVar("T")
S = TypeVar("S", bound=Hashable)


class ModelCache(Generic[T]):
    def __init__(self, max_size: Callable[[], int], *, kind: str = "model") -> None:
        self._max_size = max_size
        self._kind = kind  # the metrics' label: asr, tts
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
            started = time.perf_counter()
            value = load()
            observe.model_loaded(self._kind, time.perf_counter() - started)  # load-time histogram
            with self._lock:
                self._items[key] = value
                self._loading.pop(key, None)
                while len(self._items) > max(1, self._max_size()):
                    self._items.popitem(last=False)
                observe.model_cache_size(self._kind, len(self._items))
            return value

    def cached_keys(self) -> list[Hashable]:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            observe.model_cache_size(self._kind, 0)


class EngineRegistry(Generic[S, T]):
    """Engine name -> factory(spec) for exactly the names in `names`, with a cache of what they loaded."""

    def __init__(
        self,
        kind: str,
        names: Iterable[str],
        factories: dict[str, Callable[[S], T]],
        error: Callable[[str], Exception],
    ) -> None:
        if set(factories) != set(names):
            raise RuntimeError(f"The {kind} registry must map exactly the engine names of bots.engines.")
        self._kind = kind
        self._factories = factories
        self._error = error
        self._cache: ModelCache[T] = ModelCache(lambda: settings.VOICEBOT_MODEL_CACHE_SIZE, kind=kind.lower())

    def names(self) -> list[str]:
        return [str(name) for name in self._factories]

    def load(self, engine: str, spec: S) -> T:
        """Blocking: the cached model for `spec`, loading it on first use."""
        factory = self._factories.get(engine)
        if factory is None:
            raise self._error(f"Unknown {self._kind} engine {engine!r}: use one of {', '.join(self.names())}")
        return self._cache.get(spec, lambda: factory(spec))

    def cached_specs(self) -> list[S]:
        return list(self._cache.cached_keys())  # type: ignore[arg-type]
