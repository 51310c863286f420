"""Reads for bots: the dashboard list with per-bot usage stats in one query, and which provider key
serves (or would serve) a bot."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Avg, Count, FloatField, IntegerField, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from bots.models import Bot, ProviderKey

_STAT_ANNOTATIONS = {
    "stat_conversations": Count("conversations"),
    "stat_input_tokens": Coalesce(Sum("conversations__llm_input_tokens_est"), Value(0), output_field=IntegerField()),
    "stat_output_tokens": Coalesce(Sum("conversations__llm_output_tokens_est"), Value(0), output_field=IntegerField()),
    "stat_cost_usd": Coalesce(Sum("conversations__cost_usd_est"), Value(0.0), output_field=FloatField()),
    "stat_avg_llm_ttfb_ms": Avg("conversations__last_llm_ttfb_ms"),
    "stat_avg_llm_total_ms": Avg("conversations__last_llm_total_ms"),
    "stat_avg_total_ms": Avg("conversations__last_total_ms"),
}


def bot_list_with_stats() -> QuerySet[Bot]:
    """Bots, newest change first, each annotated with `stat_*` (one GROUP BY over conversations)."""
    return Bot.objects.annotate(**_STAT_ANNOTATIONS).order_by("-updated_at")


def _as_int(value: float | None) -> int | None:
    return None if value is None else int(value)


def bot_stats(bot: Bot) -> dict[str, Any]:
    """The reference's `stats` object from a bot of `bot_list_with_stats()` (averages truncated to int)."""
    return {
        "conversations": bot.stat_conversations,
        "input_tokens": int(bot.stat_input_tokens),
        "output_tokens": int(bot.stat_output_tokens),
        "cost_usd": float(bot.stat_cost_usd),
        "avg_llm_ttfb_ms": _as_int(bot.stat_avg_llm_ttfb_ms),
        "avg_llm_total_ms": _as_int(bot.stat_avg_llm_total_ms),
        "avg_total_ms": _as_int(bot.stat_avg_total_ms),
    }


def provider_key_list(*, provider: str | None = None) -> QuerySet[ProviderKey]:
    """Provider keys, newest first, optionally of one provider."""
    keys = ProviderKey.objects.order_by("-created_at")
    return keys.filter(provider=provider) if provider else keys


def default_provider_key() -> ProviderKey | None:
    """The key a new bot gets: the newest stored provider key (None when none is stored)."""
    return ProviderKey.objects.order_by("-created_at").first()


NO_KEY_WARNING = (
    "No API key can serve this bot: it has no provider key and the server has no OPENAI_API_KEY, "
    "so every chat would fail. Add a provider key on the Keys page and choose it here."
)


def bot_key_problem(bot: Bot) -> str:
    """Why no key can serve `bot` ("" when its own key or the server's OPENAI_API_KEY will be used)."""
    if bot.openai_key_id is not None or getattr(settings, "OPENAI_API_KEY", ""):
        return ""
    return NO_KEY_WARNING
