"""What a turn needs to know about its bot, built once per process and bot (`bots.config_cache`).

The bot row with its key, the model target (the key decrypted, or the reason there is none) and the
bot's tool list (each tool provider runs a query) used to be loaded for every turn. They change only
when someone saves a bot, a key or a tool, and every such save bumps the shared version, so each
process rebuilds then, and only then (or after `bots.config_cache.MAX_AGE_S`).

The server-wide key settings (OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_API_STYLE) are part of the
cache key: a bot without its own key follows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from bots.config_cache import bot_configs
from bots.models import Bot
from conversations.engine.llm import LLMError, LLMTarget, resolve_target
from conversations.engine.tools import ToolSet, resolve_tools


@dataclass(frozen=True)
class TurnConfig:
    bot: Bot  # shared by the process's turns of this bot: read it, never change it
    target: LLMTarget | None
    error: LLMError | None  # why there is no target (no key, a key that cannot be decrypted)
    tools: ToolSet | None  # None when there is no target


def turn_config(bot_id: Any) -> TurnConfig:
    """The bot's turn configuration (synchronous: may build it from the database)."""
    key = (
        "turn",
        str(bot_id),
        settings.OPENAI_API_KEY,
        settings.OPENAI_BASE_URL,
        getattr(settings, "OPENAI_API_STYLE", ""),
    )
    return bot_configs.get(key, lambda: _build(bot_id))


def _build(bot_id: Any) -> TurnConfig:
    bot = Bot.objects.select_related("openai_key").get(pk=bot_id)
    try:
        target = resolve_target(bot)
    except LLMError as exc:
        return TurnConfig(bot, None, exc, None)
    return TurnConfig(bot, target, None, resolve_tools(bot))
