"""The provider-key "Test" action and the key's model list: the provider's models, listed with a
stored key through the engine's client layer, so the Studio reports a failure in the same words a
conversation would.

The list is cached (the Django cache, shared by every process) per key and key version: "Test" fills
it, and the bot page reads it for the chat-model suggestions, listing once (with a short timeout)
when nothing is cached. A failed listing is cached briefly, so a dead server does not slow every page.

It lives above `bots` (which stores the key and imports no other app) and beside the engine it uses.
"""

from __future__ import annotations

from asgiref.sync import async_to_sync
from django.core.cache import cache

from bots.crypto import SecretError
from bots.models import ProviderKey
from bots.options import chat_model_ids
from conversations.engine import llm

MODELS_TTL_S = 3600
MODELS_FAILURE_TTL_S = 60
PAGE_LIST_TIMEOUT_S = 5.0


def _cache_key(key: ProviderKey) -> str:
    version = int(key.updated_at.timestamp()) if key.updated_at else 0
    return f"voicebot:provider_key_models:{key.pk}:{version}"


def _list_models(key: ProviderKey, *, timeout_s: float | None = None) -> list[str]:
    """Every model id the provider lists for this key (raises SecretError or the SDK's error)."""
    target = llm.LLMTarget(key.get_secret(), key.base_url or None, key.api_style, "")

    async def list_models() -> list[str]:
        client = llm.client_for(target)
        if timeout_s is not None:
            client = client.with_options(timeout=timeout_s, max_retries=0)
        return [model.id async for model in client.models.list() if isinstance(model.id, str)]

    return sorted(set(async_to_sync(list_models)()))


def provider_key_check(key: ProviderKey) -> tuple[bool, str]:
    """List the provider's models with this key: (ok, message). A success refreshes the cached list."""
    try:
        models = _list_models(key)
    except SecretError as exc:
        return False, str(exc)
    except Exception as exc:  # every provider failure is reported, in the engine's words
        return False, llm.describe_error(exc).message
    cache.set(_cache_key(key), chat_model_ids(models), MODELS_TTL_S)
    sample = ", ".join(models[:5])
    return True, f"The key works: {len(models)} models available{f' ({sample}…)' if sample else ''}."


def provider_key_models(key: ProviderKey, *, fetch: bool = True) -> list[str]:
    """The chat models this key's server lists (cached); [] when unknown or the listing failed.

    `fetch=False` reads the cache only (for keys that are not the one selected on a page).
    """
    cached = cache.get(_cache_key(key))
    if cached is not None or not fetch:
        return list(cached or [])
    try:
        models = chat_model_ids(_list_models(key, timeout_s=PAGE_LIST_TIMEOUT_S))
        ttl = MODELS_TTL_S
    except Exception:  # any failure (secret, network, auth): no suggestions, the field stays free text
        models, ttl = [], MODELS_FAILURE_TTL_S
    cache.set(_cache_key(key), models, ttl)
    return models
