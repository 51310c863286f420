"""Which class runs each ASR engine (`bots.engines.AsrEngine` names) and how a bot picks its model."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import numpy as np

from audio.asr.base import AsrError, AsrModel, AsrSpec, Transcription, asr_language
from audio.model_cache import EngineRegistry
from bots.engines import AsrEngine

if TYPE_CHECKING:
    from bots.models import Bot


def _faster_whisper(spec: AsrSpec) -> AsrModel:
    from audio.asr.faster_whisper import FasterWhisperModel

    return FasterWhisperModel(spec)


def _whisper(spec: AsrSpec) -> AsrModel:
    from audio.asr.whisper import OpenAIWhisperModel

    return OpenAIWhisperModel(spec)


_ENGINES: EngineRegistry[AsrSpec, AsrModel] = EngineRegistry(
    "ASR",
    AsrEngine.values,
    {AsrEngine.FASTER_WHISPER: _faster_whisper, AsrEngine.WHISPER: _whisper},
    AsrError,
)


def asr_engines() -> list[str]:
    return _ENGINES.names()


def spec_for_bot(bot: Bot) -> AsrSpec:
    return AsrSpec(engine=bot.asr_engine, model=bot.whisper_model.strip(), device=bot.whisper_device or "auto")


def load_asr(spec: AsrSpec) -> AsrModel:
    """Blocking: the cached model, loading it on first use."""
    return _ENGINES.load(spec.engine, spec)


def cached_asr_specs() -> list[AsrSpec]:
    return _ENGINES.cached_specs()


def transcribe_sync(spec: AsrSpec, samples: np.ndarray, language: str | None, *, tail: bool = False) -> Transcription:
    return load_asr(spec).transcribe(samples, language=asr_language(language), tail=tail)


async def transcribe(spec: AsrSpec, samples: np.ndarray, language: str | None) -> Transcription:
    """Load (first time) and run the model in a worker thread: never on the event loop."""
    return await asyncio.to_thread(transcribe_sync, spec, samples, language)
