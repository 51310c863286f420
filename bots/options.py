"""The choices the Studio and API clients offer (`GET /api/options`), in one place.

The Studio's forms call `api_options()` directly; the REST view returns it as JSON. The model list is
the curated list plus the pricing table's models plus, when a server key is configured, the live
`models.list()` of that server, cached in the Django cache (shared by every process). A failed live
listing is cached briefly too, so a dead upstream does not slow every page, and never blanks the list.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.cache import cache

from bots.engines import LEGACY_TTS_VENDORS, AsrEngine, TtsEngine
from bots.models import DEFAULT_XTTS_MODEL, Bot, ProviderKey
from bots.pricing import pricing_table

logger = logging.getLogger(__name__)

CURATED_OPENAI_MODELS = (
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-4.1-nano",
    "gpt-5.2",
    "gpt-5.2-chat-latest",
    "gpt-5.2-pro",
    "gpt-5.1",
    "gpt-5.1-chat-latest",
    "gpt-5.1-mini",
    "gpt-5.1-nano",
    "gpt-5.1-codex-max",
    "gpt-5.1-codex-mini",
    "gpt-5.1-codex",
    "gpt-5-codex",
    "o4-mini",
    "gpt-5",
    "gpt-5-chat-latest",
    "gpt-5-mini",
    "gpt-5-nano",
)
WHISPER_MODELS = ("tiny.en", "tiny", "base", "small", "medium", "large")
WHISPER_DEVICES = ("auto", "cpu", "mps", "cuda")
LANGUAGES = ("auto", "en", "hi", "es", "fr", "de", "it", "pt", "pl", "tr", "ru", "nl")
OPENAI_TTS_MODELS = ("gpt-4o-mini-tts", "tts-1", "tts-1-hd")
OPENAI_TTS_VOICES = (
    "alloy",
    "ash",
    "ballad",
    "coral",
    "echo",
    "fable",
    "nova",
    "onyx",
    "sage",
    "shimmer",
    "verse",
    "marin",
    "cedar",
)
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

LIVE_MODELS_CACHE_KEY = "voicebot:options:live_openai_models"
LIVE_MODELS_TTL_S = 3600
LIVE_MODELS_FAILURE_TTL_S = 60
LIVE_MODELS_TIMEOUT_S = 5.0
_EXCLUDED_PREFIXES = ("tts-", "whisper-", "text-embedding-", "omni-moderation", "gpt-4o-mini-tts")


# Words in a model id that mark it as something other than a chat model (embeddings, speech, images).
_NOT_CHAT = ("embed", "tts", "whisper", "moderation", "dall-e", "transcribe", "davinci", "babbage")


def chat_model_ids(ids: list[str]) -> list[str]:
    """Model ids a provider lists, without the ones that are clearly not chat models (any server's
    names are kept otherwise: Ollama's `llama3.2:3b` is as good a suggestion as `gpt-4.1-mini`)."""
    return sorted({i for i in ids if isinstance(i, str) and i and not any(w in i.lower() for w in _NOT_CHAT)})


# Fast chat models, best first: a new bot takes the first one its key's server lists.
FAST_CHAT_MODELS = ("gpt-4.1-mini", "gpt-4o-mini", "gpt-5-mini", "gpt-4.1-nano", "gpt-5-nano")


def preferred_chat_model(listed: list[str], default: str) -> str:
    """A new bot's chat model for a key whose server lists `listed`: `default` when listed (or when
    nothing is known), else the first fast model listed, else the first model listed."""
    if not listed or default in listed:
        return default
    return next((name for name in FAST_CHAT_MODELS if name in listed), listed[0])


def _keep_model(model_id: str) -> bool:
    return (model_id.startswith("gpt-") or model_id.startswith("o")) and not model_id.startswith(_EXCLUDED_PREFIXES)


def _fetch_live_models() -> list[str]:
    """`models.list()` of the server configured by OPENAI_API_KEY / OPENAI_BASE_URL, filtered to chat models."""
    from openai import OpenAI, OpenAIError  # heavy import, only when a key is set

    client = OpenAI(
        api_key=settings.OPENAI_API_KEY,
        base_url=settings.OPENAI_BASE_URL or None,
        timeout=LIVE_MODELS_TIMEOUT_S,
        max_retries=0,
    )
    try:
        return sorted({m.id for m in client.models.list() if isinstance(m.id, str) and _keep_model(m.id)})
    except OpenAIError as exc:
        logger.info("Live model listing failed, keeping the curated list: %s", exc.__class__.__name__)
        raise


def live_openai_models() -> list[str]:
    """Cached live model ids; [] when no server key is configured or the listing failed."""
    if not settings.OPENAI_API_KEY:
        return []
    cached = cache.get(LIVE_MODELS_CACHE_KEY)
    if cached is not None:
        return list(cached)
    try:
        models = _fetch_live_models()
        ttl = LIVE_MODELS_TTL_S
    except Exception:  # any failure (network, auth, bad payload) keeps the curated list
        models = []
        ttl = LIVE_MODELS_FAILURE_TTL_S
    cache.set(LIVE_MODELS_CACHE_KEY, models, ttl)
    return models


def api_options() -> dict[str, Any]:
    """Everything a bot editor offers, with the reference's keys plus this build's engines."""
    pricing = pricing_table()
    models = sorted({*CURATED_OPENAI_MODELS, *pricing.keys(), *live_openai_models()})
    asr_engines = [choice.value for choice in AsrEngine]
    tts_engines = [choice.value for choice in TtsEngine]
    return {
        "openai_models": models,
        "openai_pricing": pricing,
        "whisper_models": list(WHISPER_MODELS),
        "whisper_devices": list(WHISPER_DEVICES),
        "languages": list(LANGUAGES),
        "xtts_models": [DEFAULT_XTTS_MODEL],
        "openai_tts_models": list(OPENAI_TTS_MODELS),
        "openai_tts_voices": list(OPENAI_TTS_VOICES),
        "start_message_modes": [choice.value for choice in Bot.StartMode],
        "asr_vendors": asr_engines,
        "asr_engines": asr_engines,
        "tts_vendors": tts_engines,
        "tts_vendor_aliases": dict(LEGACY_TTS_VENDORS),  # the reference's names, accepted on input
        "http_methods": list(HTTP_METHODS),
        "api_styles": [choice.value for choice in ProviderKey.ApiStyle],
    }
