"""The ASGI application freezes its start-up objects out of the garbage collector's full collections
(config/gc_freeze.py), with the SDK's lazily loaded modules loaded first; VOICEBOT_GC_FREEZE=false
leaves the collector alone."""

from __future__ import annotations

import gc
import sys

from config.gc_freeze import freeze_startup_objects


def test_the_asgi_application_freezes_what_it_built_to_start():
    import config.asgi  # noqa: F401  (the import is what freezes)

    assert gc.get_freeze_count() > 50_000
    assert gc.get_threshold()[0] == 10_000
    for module in ("openai.resources.responses", "openai.resources.chat.completions", "openai.types.responses"):
        assert module in sys.modules


def test_the_setting_turns_it_off(settings):
    settings.VOICEBOT_GC_FREEZE = False
    frozen, thresholds = gc.get_freeze_count(), gc.get_threshold()

    assert freeze_startup_objects() is False
    assert gc.get_freeze_count() == frozen and gc.get_threshold() == thresholds


def test_a_zero_threshold_keeps_the_collector_on(settings):
    settings.VOICEBOT_GC_GEN0_THRESHOLD = 0
    before = gc.get_threshold()
    try:
        assert freeze_startup_objects() is True
        assert gc.get_threshold() == before and gc.isenabled()
    finally:
        gc.set_threshold(*before)
