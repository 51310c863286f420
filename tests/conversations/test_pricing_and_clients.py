"""Cost estimates from the price table (with env overrides) and the cached SDK clients."""

from __future__ import annotations

import pytest

from conversations import pricing
from conversations.engine.llm import LLMTarget, client_for


def test_costs_use_the_reference_prices():
    assert pricing.estimate_cost("gpt-4o", 1_000_000, 1_000_000) == pytest.approx(20.0)
    assert pricing.estimate_cost("o4-mini", 500_000, 0) == pytest.approx(2.0)


def test_a_dated_snapshot_uses_its_base_price_and_unknown_models_cost_nothing():
    assert pricing.price_for("gpt-4.1-mini-2025-04-14") == pricing.DEFAULT_PRICING["gpt-4.1-mini"]
    assert pricing.price_for("gpt-4o-mini") == pricing.DEFAULT_PRICING["gpt-4o-mini"]
    assert pricing.estimate_cost("llama3", 10_000, 10_000) == 0.0


def test_the_pricing_setting_overrides_and_extends_the_table(settings):
    settings.OPENAI_PRICING = {"gpt-4o": {"input_per_1m": 1}, "llama3": {"input_per_1m": 2, "output_per_1m": 3}}
    assert pricing.price_for("gpt-4o") == {"input_per_1m": 1, "output_per_1m": 15.0}
    assert pricing.estimate_cost("llama3", 1_000_000, 1_000_000) == pytest.approx(5.0)


def test_token_estimates_work_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))  # an empty cache: tiktoken must not download
    pricing._encoding.cache_clear()
    try:
        assert pricing.estimate_text_tokens("") == 0
        assert pricing.estimate_text_tokens("abcdefgh", "gpt-4o") == 2
    finally:
        pricing._encoding.cache_clear()


async def test_sdk_clients_are_reused_per_key_and_server(settings):
    first = LLMTarget("sk-one", "http://127.0.0.1:9/v1", "responses", "m")
    again = LLMTarget("sk-one", "http://127.0.0.1:9/v1", "responses", "other-model")
    other = LLMTarget("sk-two", "http://127.0.0.1:9/v1", "responses", "m")

    assert client_for(first) is client_for(again)
    assert client_for(first) is not client_for(other)
    settings.VOICEBOT_OPENAI_TIMEOUT_S = 5.0
    assert client_for(first).timeout == 5.0
