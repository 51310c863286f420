"""Cost estimates from the price table (with env overrides) and the cached SDK clients."""

from __future__ import annotations

import asyncio
import gc

import pytest
from asgiref.sync import async_to_sync

from conversations import pricing
from conversations.engine import llm
from conversations.engine.llm import LLMTarget, client_for, complete


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


def _session_of(client):
    """The aiohttp session under an SDK client's transport (None before its first request)."""
    session = client._client._transport.client
    return session if not callable(session) else None


def test_a_client_closes_with_the_short_lived_loop_that_opened_it(openai_double, caplog):
    """A sync caller (a Celery task, a management command) drives the engine on a loop of its own;
    when that loop ends its client's connections close, instead of waiting for the garbage collector
    and its 'Unclosed client session' errors."""
    target = LLMTarget("sk-test-double", openai_double.base_url, "responses", "m")
    used = []

    async def ask() -> str:
        used.append(client_for(target))
        return await complete(target, system="Be brief.", user="Hi")

    openai_double.queue_text("One.")
    openai_double.queue_text("Two.")
    assert async_to_sync(ask)() == "One."
    assert asyncio.run(ask()) == "Two."

    assert used[0] is not used[1]  # one client per loop
    for client in used:
        assert client.is_closed() and _session_of(client).closed
    used.clear()
    gc.collect()
    assert "Unclosed" not in caplog.text


async def test_a_client_evicted_from_a_full_loop_is_closed(openai_double, monkeypatch):
    monkeypatch.setattr(llm._clients, "_max", 1)
    first = client_for(LLMTarget("sk-one", openai_double.base_url, "responses", "m"))
    second = client_for(LLMTarget("sk-two", openai_double.base_url, "responses", "m"))
    for _ in range(50):  # the close runs as a task of its own
        if first.is_closed():
            break
        await asyncio.sleep(0.01)

    assert first.is_closed() and not second.is_closed()
    assert client_for(LLMTarget("sk-two", openai_double.base_url, "responses", "m")) is second
