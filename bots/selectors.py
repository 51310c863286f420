"""Reads for bots: the dashboard list with per-bot usage stats in one query."""

from __future__ import annotations

from typing import Any

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
