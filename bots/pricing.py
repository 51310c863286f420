"""The model price table (USD per 1M tokens): the reference's prices plus `OPENAI_PRICING_JSON` overrides.

It lives in `bots`, the leaf, because two floors read it: `GET /api/options` (`bots.options`) lists it,
and the engine's cost estimates (`conversations.pricing`) price each turn with it.
"""

from __future__ import annotations

from django.conf import settings

DEFAULT_PRICING: dict[str, dict[str, float]] = {
    "gpt-4o": {"input_per_1m": 5.0, "output_per_1m": 15.0},
    "o4-mini": {"input_per_1m": 4.0, "output_per_1m": 16.0},
    "gpt-5": {"input_per_1m": 1.25, "output_per_1m": 10.0},
    "gpt-5-chat-latest": {"input_per_1m": 1.25, "output_per_1m": 10.0},
    "gpt-5-mini": {"input_per_1m": 0.25, "output_per_1m": 2.0},
    "gpt-5-nano": {"input_per_1m": 0.05, "output_per_1m": 0.4},
    "gpt-5.1": {"input_per_1m": 1.25, "output_per_1m": 10.0},
    "gpt-5.1-chat-latest": {"input_per_1m": 1.25, "output_per_1m": 10.0},
    "gpt-4.1": {"input_per_1m": 2.0, "output_per_1m": 8.0},
    "gpt-4.1-mini": {"input_per_1m": 0.4, "output_per_1m": 1.6},
    "gpt-4.1-nano": {"input_per_1m": 0.1, "output_per_1m": 0.4},
    # Not in the reference's table (it priced gpt-4o-mini at 0); OpenAI's list price.
    "gpt-4o-mini": {"input_per_1m": 0.15, "output_per_1m": 0.6},
}


def pricing_table() -> dict[str, dict[str, float]]:
    """The built-in prices with `settings.OPENAI_PRICING` (`{model: {input_per_1m, output_per_1m}}`) over them."""
    table = {name: dict(prices) for name, prices in DEFAULT_PRICING.items()}
    for name, prices in (getattr(settings, "OPENAI_PRICING", None) or {}).items():
        if isinstance(prices, dict):
            table[str(name)] = {**table.get(str(name), {}), **prices}
    return table
