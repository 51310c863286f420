"""The bot page's Download button: pull a model in the background, with progress the page polls.

Decision: a daemon thread started by the view, progress in the Django cache, never a Celery task.
A pull writes files into this host's VOICEBOT_MODELS_DIR, which is where this host's processes load
models from; a Celery worker may run on another host (and under the embedded default, Celery runs
tasks inline, which would block the request for the whole download). The thread touches no database,
only files and the cache. The cache entry (`add`) also keeps a second click, or a second process
sharing the cache (Redis), from starting the same download twice while one runs. Hosts that do not
share VOICEBOT_MODELS_DIR each pull their own copy (`manage.py voicebot_models pull NAME`).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.core.cache import cache

from audio import model_store

logger = logging.getLogger(__name__)

RUNNING_TTL_S = 120  # refreshed on every progress report: a crashed process frees the slot
RESULT_TTL_S = 600


def _key(name: str) -> str:
    return f"voicebot:model-download:{name}"


def download_state(name: str) -> dict[str, Any] | None:
    """{state: running|done|failed, done, total, error} of the latest download of `name`, or None."""
    return cache.get(_key(name))


def start_download(name: str) -> dict[str, Any]:
    """Start pulling `name` in a background thread unless it is installed or already downloading."""
    current = model_store.state(name)
    if current.installed:
        return {"state": "done", "done": current.size_bytes, "total": current.size_bytes, "error": ""}
    if not current.pullable:
        return {"state": "failed", "done": 0, "total": 0, "error": f"{name!r} cannot be downloaded here."}
    state = {"state": "running", "done": 0, "total": current.size_bytes, "error": "", "started": time.time()}
    if not cache.add(_key(name), state, RUNNING_TTL_S):
        existing = cache.get(_key(name))
        if existing and existing.get("state") == "running":
            return existing
        cache.set(_key(name), state, RUNNING_TTL_S)
    threading.Thread(target=_run, args=(name, dict(state)), name=f"model-download-{name}", daemon=True).start()
    return state


def _run(name: str, state: dict[str, Any]) -> None:
    last_write = 0.0

    def progress(done: int, total: int) -> None:
        nonlocal last_write
        state.update(done=done, total=total or state["total"])
        now = time.monotonic()
        if now - last_write >= 0.5:
            last_write = now
            cache.set(_key(name), dict(state), RUNNING_TTL_S)

    try:
        result = model_store.pull(name, progress=progress)
    except model_store.ModelStoreError as exc:
        cache.set(_key(name), {**state, "state": "failed", "error": str(exc)}, RESULT_TTL_S)
    except Exception:
        logger.exception("Downloading model %s failed", name)
        error = f"Downloading {name} failed; see the server log, or run `manage.py voicebot_models pull {name}`."
        cache.set(_key(name), {**state, "state": "failed", "error": error}, RESULT_TTL_S)
    else:
        size = result.size_bytes
        cache.set(_key(name), {**state, "state": "done", "done": size, "total": size}, RESULT_TTL_S)
