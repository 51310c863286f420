"""Speech synthesis engines behind one interface (see base.py); engines register in registry.py."""

from audio.tts.base import TtsError, TtsSpec, TtsVoice
from audio.tts.registry import load_tts, spec_for_bot, synthesize, synthesize_sync, tts_engines

__all__ = [
    "TtsError",
    "TtsSpec",
    "TtsVoice",
    "load_tts",
    "spec_for_bot",
    "synthesize",
    "synthesize_sync",
    "tts_engines",
]
