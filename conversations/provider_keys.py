"""The provider-key "Test" action: list the provider's models with a stored key, through the engine's
client layer, so the Studio reports a failure in the same words a conversation would.

It lives above `bots` (which stores the key and imports no other app) and beside the engine it uses.
"""

from __future__ import annotations

from asgiref.sync import async_to_sync

from bots.crypto import SecretError
from bots.models import ProviderKey
from conversations.engine import llm


def provider_key_check(key: ProviderKey) -> tuple[bool, str]:
    """List the provider's models with this key: (ok, message)."""
    try:
        target = llm.LLMTarget(key.get_secret(), key.base_url or None, key.api_style, "")
    except SecretError as exc:
        return False, str(exc)

    async def list_models() -> list[str]:
        return [model.id async for model in llm.client_for(target).models.list()]

    try:
        models = async_to_sync(list_models)()
    except Exception as exc:  # every provider failure is reported, in the engine's words
        return False, llm.describe_error(exc).message
    sample = ", ".join(sorted(models)[:5])
    return True, f"The key works: {len(models)} models available{f' ({sample}…)' if sample else ''}."
