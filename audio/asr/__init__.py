"""Speech recognition engines behind one interface (see base.py); engines register in registry.py."""

from audio.asr.base import AsrError, AsrModel, AsrSpec, TailConfidence, Transcription
from audio.asr.registry import asr_engines, load_asr, spec_for_bot, transcribe, transcribe_sync

__all__ = [
    "AsrError",
    "AsrModel",
    "AsrSpec",
    "TailConfidence",
    "Transcription",
    "asr_engines",
    "load_asr",
    "spec_for_bot",
    "transcribe",
    "transcribe_sync",
]
