"""Bot configuration cached in each process, coherent across processes.

A turn needs the bot (prompt, model, tool toggles), its decrypted key and its tool list. Loading them
from the database for every turn (a join, a Fernet decryption, a query per tool provider) was a fifth
of the server's work per widget turn (docs/performance.md). So each process keeps what it built, and
one **version** in the shared Django cache (Redis when scaled out) says whether that is still current:

- every lookup reads the version first, then (on a miss or a different version) builds from the
  database and keeps the result under the version it read, so a save that lands in between is never
  hidden (the next lookup sees the new version and builds again);
- a save or delete of a watched model (`invalidate_on`: Bot, ProviderKey, and whatever the apps
  above register, e.g. IntegrationTool) writes a new version at once and again when its transaction
  commits, so a bot saved in one process is built fresh by every other process on its next turn;
- a version missing from the shared cache (evicted, flushed) is replaced by a new one: an unknown
  version never matches what a process kept;
- entries also expire after MAX_AGE_S, so a write that bypasses model signals (`QuerySet.update`,
  raw SQL) is seen within that time.

One version for every bot keeps the per-turn cost at one cache read whatever the bot; saves are rare,
and after one each process rebuilds a bot once.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from django.core.cache import caches
from django.db import transaction
from django.db.models.signals import post_delete, post_save

VERSION_KEY = "bots:config-version"
MAX_AGE_S = 60.0
MAX_ENTRIES = 2048

T = TypeVar("T")


def _new_version() -> str:
    return uuid.uuid4().hex


class ConfigCache:
    """The process's entries; `alias` names the shared Django cache that holds the version."""

    def __init__(self, alias: str = "default", *, max_age_s: float = MAX_AGE_S) -> None:
        self.alias = alias
        self.max_age_s = max_age_s
        self._entries: dict[Hashable, tuple[str, float, Any]] = {}
        self._lock = threading.Lock()

    def version(self) -> str:
        shared = caches[self.alias]
        current = shared.get(VERSION_KEY)
        if current is None:
            shared.add(VERSION_KEY, _new_version(), timeout=None)
            current = shared.get(VERSION_KEY)
        return current

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        """The value kept for `key` if it was built under the current version (and is younger than
        max_age_s), else `build()` (synchronous: database work), kept under the version read before it."""
        version = self.version()
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and entry[0] == version and now - entry[1] < self.max_age_s:
            return entry[2]
        value = build()
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (version, now, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def bump(alias: str = "default") -> None:
    """A new version: every process rebuilds on its next lookup."""
    caches[alias].set(VERSION_KEY, _new_version(), timeout=None)


def _bump_on_write(**_kwargs: Any) -> None:
    # Now (this process's next turn, and tests, whose transactions never commit) and again once the
    # transaction commits: a process that rebuilt in between read the old row, and must rebuild again.
    bump()
    transaction.on_commit(bump)


def invalidate_on(*models: type) -> None:
    """Saving or deleting a row of these models makes every process rebuild bot configuration."""
    for model in models:
        post_save.connect(_bump_on_write, sender=model, weak=False, dispatch_uid=f"bot-config:{model._meta.label}:save")
        post_delete.connect(
            _bump_on_write, sender=model, weak=False, dispatch_uid=f"bot-config:{model._meta.label}:delete"
        )


bot_configs = ConfigCache()  # this process's entries (the engine's turn configuration)
