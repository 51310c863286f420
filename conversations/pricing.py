"""Token and cost estimates (INVENTORY §4.7), used when recording a turn's metrics.

Tokens come from the provider's `usage` whenever it reports them; `estimate_text_tokens` is only the
fallback. tiktoken downloads its tables on first use, which hangs or fails offline, so it is used
only when its table is already in the local cache; otherwise the estimate is `len(text) / 4`.

Prices are USD per 1M tokens from `bots.pricing.pricing_table()` (the reference's table plus
`OPENAI_PRICING_JSON` overrides). An unknown model costs 0.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from functools import lru_cache
from typing import Any

from bots.pricing import DEFAULT_PRICING, pricing_table  # noqa: F401  (DEFAULT_PRICING: re-exported)

_DATED_SUFFIX = re.compile(r"^-\d{4}-\d{2}-\d{2}$")
_TIKTOKEN_TABLES = {
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
}


def price_for(model: str) -> dict[str, float] | None:
    """The model's prices; a dated snapshot (`gpt-4o-2024-08-06`) falls back to its base name."""
    table = pricing_table()
    if model in table:
        return table[model]
    for name in sorted(table, key=len, reverse=True):
        if model.startswith(name) and _DATED_SUFFIX.match(model[len(name) :]):
            return table[name]
    return None


def estimate_cost(model: str, input_tokens: int, output_tokens: int) -> float:
    prices = price_for(model)
    if not prices:
        return 0.0
    try:
        return (input_tokens / 1e6) * float(prices.get("input_per_1m", 0)) + (output_tokens / 1e6) * float(
            prices.get("output_per_1m", 0)
        )
    except (TypeError, ValueError):
        return 0.0


def _tiktoken_cache_path(url: str) -> str:
    cache_dir = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR")
    if cache_dir is None:
        cache_dir = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    return os.path.join(cache_dir, hashlib.sha1(url.encode()).hexdigest())


@lru_cache(maxsize=4)
def _encoding(model: str) -> Any | None:
    """A tiktoken encoding whose table is already cached locally, else None (never downloads)."""
    try:
        import tiktoken
    except ImportError:
        return None
    name = "o200k_base" if model.startswith(("gpt-4o", "o1", "o3", "o4", "gpt-4.1", "gpt-5")) else "cl100k_base"
    if not os.path.isfile(_tiktoken_cache_path(_TIKTOKEN_TABLES[name])):
        return None
    try:
        return tiktoken.get_encoding(name)
    except Exception:  # corrupt cache, changed URLs: fall back to the character estimate
        return None


def estimate_text_tokens(text: str, model: str = "") -> int:
    if not text:
        return 0
    encoding = _encoding(model)
    if encoding is not None:
        try:
            return len(encoding.encode(text, disallowed_special=()))
        except Exception:
            pass
    return max(1, round(len(text) / 4))


def estimate_items_tokens(texts: list[str], model: str = "") -> int:
    """Input estimate: 4 tokens of framing per message plus its text."""
    return sum(4 + estimate_text_tokens(t, model) for t in texts)
