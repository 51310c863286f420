"""Which class speaks each TTS engine (`bots.engines.TtsEngine` names) and how a bot selects a voice."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from django.conf import settings

from audio.model_cache import EngineRegistry
from audio.pcm import wav_bytes
from audio.tts.base import TtsError, TtsSpec, TtsVoice
from bots.engines import LEGACY_TTS_VENDORS, TtsEngine
from conversations.engine.events import Audio

if TYPE_CHECKING:
    from bots.models import Bot


def _piper(spec: TtsSpec) -> TtsVoice:
    from audio.tts.piper import PiperTts

    return PiperTts(spec)


def _xtts(spec: TtsSpec) -> TtsVoice:
    from audio.tts.xtts import XttsTts

    return XttsTts(spec)


def _openai(spec: TtsSpec) -> TtsVoice:
    from audio.tts.openai import OpenAITts

    return OpenAITts(spec)


_ENGINES: EngineRegistry[TtsSpec, TtsVoice] = EngineRegistry(
    "TTS",
    TtsEngine.values,
    {TtsEngine.PIPER: _piper, TtsEngine.XTTS: _xtts, TtsEngine.OPENAI: _openai},
    TtsError,
)


def tts_engines() -> list[str]:
    return _ENGINES.names()


def _openai_credentials(bot: Bot) -> tuple[str, str]:
    """(api key, base url): the bot's stored key, else the server's OPENAI_API_KEY. Sync (reads the DB)."""
    key = bot.openai_key if bot.openai_key_id else None
    if key is not None:
        return key.get_secret(), key.base_url or settings.OPENAI_BASE_URL
    return settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL


def spec_for_bot(bot: Bot) -> TtsSpec:
    """The bot's voice settings. Sync: it may read and decrypt the bot's key (call via a thread)."""
    vendor = str(LEGACY_TTS_VENDORS.get(bot.tts_vendor, bot.tts_vendor))
    if vendor == TtsEngine.PIPER:
        return TtsSpec(vendor=vendor, voice=bot.tts_voice, speaker_id=bot.speaker_id or "")
    if vendor == TtsEngine.XTTS:
        return TtsSpec(
            vendor=vendor,
            model=bot.xtts_model,
            language=bot.tts_language,
            speaker_wav=bot.speaker_wav or (bot.tts_voice if bot.tts_voice.endswith(".wav") else ""),
            speaker_id=bot.speaker_id or "",
            split_sentences=bot.tts_split_sentences,
        )
    if vendor == TtsEngine.OPENAI:
        api_key, base_url = _openai_credentials(bot)
        return TtsSpec(
            vendor=vendor,
            voice=bot.openai_tts_voice,
            model=bot.openai_tts_model,
            speed=bot.openai_tts_speed or 1.0,
            api_key=api_key,
            base_url=base_url,
        )
    return TtsSpec(vendor=vendor)


def load_tts(spec: TtsSpec) -> TtsVoice:
    """Blocking: the cached voice, loading it on first use."""
    return _ENGINES.load(spec.vendor, spec)


def cached_tts_specs() -> list[TtsSpec]:
    return _ENGINES.cached_specs()


def synthesize_sync(spec: TtsSpec, text: str) -> Audio:
    """Text → one Audio event (a complete WAV at the voice's real rate)."""
    voice = load_tts(spec)
    samples = voice.synthesize(text)
    return Audio(wav=wav_bytes(samples, voice.sample_rate), sample_rate=voice.sample_rate, text=text)


async def synthesize(spec: TtsSpec, text: str) -> Audio:
    """Load (first time) and synthesise in a worker thread: never on the event loop."""
    return await asyncio.to_thread(synthesize_sync, spec, text)
