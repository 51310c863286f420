"""One list of engine names (bots.engines): the ASR and TTS registries map exactly those names."""

from __future__ import annotations

import pytest

from audio.asr import asr_engines
from audio.model_cache import EngineRegistry
from audio.tts import tts_engines
from bots.engines import AsrEngine, TtsEngine


def test_the_registries_map_exactly_the_engines_a_bot_can_choose():
    assert asr_engines() == list(AsrEngine.values)
    assert tts_engines() == list(TtsEngine.values)


def test_a_registry_that_misses_an_engine_refuses_to_start():
    with pytest.raises(RuntimeError, match="bots.engines"):
        EngineRegistry("TTS", TtsEngine.values, {TtsEngine.PIPER: object}, ValueError)
