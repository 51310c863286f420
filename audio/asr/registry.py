"""Which ASR engines exist, and the per-process cache of loaded models."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings

from audio.asr.base import AsrError, AsrModel, AsrSpec, Transcription, asr_language
from audio.model_cache import ModelCache

if TYPE_CHECKING:
    from bots.models import Bot


def _faster_whisper(spec: AsrSpec) -> AsrModel:
    from audio.asr.faster_whisper import FasterWhisperModel

    return FasterWhisperModel(spec)


def _whisper(spec: AsrSpec) -> AsrModel:
    from audio.asr.whisper import OpenAIWhisperModel

    return OpenAIWhisperModel(spec)


_ENGINES: dict[str, Callable[[AsrSpec], AsrModel]] = {
    "faster_whisper": _faster_whisper,
    "whisper": _whisper,
}
_cache: ModelCache[AsrModel] = ModelCache(lambda: settings.VOICEBOT_MODEL_CACHE_SIZE)


def asr_engines() -> list[str]:
    return list(_ENGINES)


def spec_for_bot(bot: Bot) -> AsrSpec:
    return AsrSpec(engine=bot.asr_engine, model=bot.whisper_model.strip(), device=bot.whisper_device or "auto")


def load_asr(spec: AsrSpec) -> AsrModel:
    """Blocking: the cached model, loading it on first use."""
    factory = _ENGINES.get(spec.engine)
    if factory is None:
        raise AsrError(f"Unknown ASR engine {spec.engine!r}: use one of {', '.join(_ENGINES)}")
    return _cache.get(spec, lambda: factory(spec))


def cached_asr_specs() -> list[AsrSpec]:
    return list(_cache.cached_keys())  # type: ignore[arg-type]


def transcribe_sync(spec: AsrSpec, samples: np.ndarray, language: str | None) -> Transcription:
    return load_asr(spec).transcribe(samples, language=asr_language(language))


async def transcribe(spec: AsrSpec, samples: np.ndarray, language: str | None) -> Transcription:
    """Load (first time) and run the model in a worker thread: never on the event loop."""
    return await asyncio.to_thread(transcribe_sync, spec, samples, language)
