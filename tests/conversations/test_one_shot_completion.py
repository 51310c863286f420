"""`llm.complete`: one system + user request in the key's API style (the choice lives in llm.py only);
web_search's summary and the Codex step call it instead of choosing the API themselves."""

from __future__ import annotations

import pytest

from conversations.engine.llm import LLMError, LLMTarget, complete

SCHEMA = {"name": "answer", "strict": True, "schema": {"type": "object", "properties": {}}}


def _target(double, style: str) -> LLMTarget:
    return LLMTarget("sk-test-double", double.base_url, style, "some-model")


async def test_it_asks_the_responses_api_with_system_and_user_items(openai_double):
    openai_double.queue_text("A summary.")

    text = await complete(_target(openai_double, "responses"), system="Be brief.", user="Summarise.")

    assert text == "A summary."
    assert openai_double.paths == ["/v1/responses"]
    body = openai_double.requests[0]
    assert body["model"] == "some-model" and "text" not in body
    assert [item["role"] for item in body["input"]] == ["system", "user"]
    assert body["input"][1]["content"] == [{"type": "input_text", "text": "Summarise."}]


async def test_it_asks_chat_completions_for_a_chat_completions_key(openai_double):
    openai_double.queue_text("A local summary.")

    text = await complete(_target(openai_double, "chat_completions"), system="Be brief.", user="Summarise.")

    assert text == "A local summary."
    assert openai_double.paths == ["/v1/chat/completions"]
    body = openai_double.requests[0]
    assert body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Summarise."}]
    assert "response_format" not in body


@pytest.mark.parametrize(
    ("style", "field", "expected"),
    [
        ("responses", "text", {"format": {"type": "json_schema", **SCHEMA}}),
        ("chat_completions", "response_format", {"type": "json_schema", "json_schema": SCHEMA}),
    ],
)
async def test_it_asks_for_structured_output_in_either_style(openai_double, style, field, expected):
    openai_double.queue_text("{}")

    assert await complete(_target(openai_double, style), system="s", user="u", json_schema=SCHEMA) == "{}"
    assert openai_double.requests[0][field] == expected


async def test_a_provider_failure_is_a_readable_llm_error(openai_double):
    openai_double.queue_error(401)

    with pytest.raises(LLMError) as caught:
        await complete(_target(openai_double, "responses"), system="s", user="u")
    assert caught.value.code == "provider_auth"
