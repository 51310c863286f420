"""Keep the garbage collector's full collections short: freeze what the server built to start.

A full (generation 2) collection walks every container object the process tracks, and it runs on
whichever thread allocates at that moment: in the ASGI server, the event loop, so every socket waits.
The server starts with ~170,000 tracked objects (Django, the apps, the openai SDK's types) that live
as long as the process; re-walking them made each full collection a 165-228 ms stall of the loop in
the widget benchmark (people-paced N=500; docs/performance.md). `gc.freeze()` moves the objects that
exist at start-up into a permanent generation the collector skips; objects created later (sockets,
turns) are collected as before, and nothing frozen was garbage.

The SDK loads its resource classes on first use; they are loaded here first, so they are frozen too
instead of joining the first full collections. VOICEBOT_GC_FREEZE=false turns this off.

The youngest generation is then collected every VOICEBOT_GC_GEN0_THRESHOLD (10,000) new container
objects instead of Python's 700. Each collection promotes what is alive at that moment, and full
collections come after enough promotions; a turn's short-lived objects mostly die between two
collections at the larger threshold, so full collections become rare: none in the benchmark's chat
phase instead of one of ~110-130 ms with the freeze alone. Cyclic garbage waits a little longer.
"""

from __future__ import annotations

import gc

from django.conf import settings


def _load_lazy_modules() -> None:
    """Import what the first model call would import: the engine's client (built and dropped, it opens
    nothing: the aiohttp session comes with the first request), its resources, the stream types."""
    import importlib

    import openai

    from conversations.engine.provider_http import guarded_aiohttp_client

    client = openai.AsyncOpenAI(
        api_key="warm-up", base_url="http://127.0.0.1:9/v1", http_client=guarded_aiohttp_client()
    )
    _ = client.responses, client.chat.completions  # cached properties: their modules load on access
    for name in ("openai.lib.streaming.responses", "openai.types.responses", "openai.types.chat"):
        importlib.import_module(name)


def freeze_startup_objects() -> bool:
    """Called once, at the end of the ASGI application's import; returns whether it froze."""
    if not getattr(settings, "VOICEBOT_GC_FREEZE", True):
        return False
    _load_lazy_modules()
    gc.collect()
    gc.freeze()
    gen0 = int(getattr(settings, "VOICEBOT_GC_GEN0_THRESHOLD", 10_000))
    if gen0 > 0:  # 0 would switch the collector off: keep Python's thresholds instead
        gc.set_threshold(gen0, *gc.get_threshold()[1:])
    return True
