"""The model caches report load time and how many models they hold."""

from __future__ import annotations

from audio.model_cache import ModelCache
from tests.observability.conftest import sample


def test_a_load_is_timed_and_the_cache_size_is_reported():
    cache = ModelCache(lambda: 2, kind="asr_check")
    loads = sample("voicebot_model_load_seconds_count", kind="asr_check")
    assert cache.get("tiny", lambda: object()) is cache.get("tiny", lambda: object())  # loaded once
    cache.get("base", lambda: object())
    cache.get("small", lambda: object())  # evicts the least recently used: two stay
    assert sample("voicebot_model_load_seconds_count", kind="asr_check") - loads == 3
    assert sample("voicebot_model_cache_models", kind="asr_check") == 2
    cache.clear()
    assert sample("voicebot_model_cache_models", kind="asr_check") == 0
