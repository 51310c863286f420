"""The loopback OpenAI double speaks the protocol the real SDK reads (so engine tests mean something)."""

from __future__ import annotations

import json

import openai
import pytest


def _client(double, **kw):
    return openai.OpenAI(api_key="sk-test-double", base_url=double.base_url, max_retries=0, **kw)


def test_it_streams_responses_text_deltas_and_usage(openai_double):
    openai_double.queue_text("Hello. How are you?")
    stream = _client(openai_double).responses.create(model="gpt-4o-mini", input="hi", stream=True)
    deltas, completed = [], None
    for event in stream:
        if event.type == "response.output_text.delta":
            deltas.append(event.delta)
        if event.type == "response.completed":
            completed = event.response
    assert "".join(deltas) == "Hello. How are you?"
    assert completed.usage.output_tokens > 0
    assert openai_double.requests[0]["input"] == "hi"


def test_it_streams_several_function_calls_with_call_ids(openai_double):
    openai_double.queue_tool_calls([("a", {"x": 1}, "call_1"), ("b", {"y": 2}, "call_2")], text_before="Wait. ")
    with _client(openai_double).responses.stream(model="gpt-4o-mini", input="hi") as stream:
        final = stream.get_final_response()
    calls = [item for item in final.output if item.type == "function_call"]
    assert [(c.name, json.loads(c.arguments), c.call_id) for c in calls] == [
        ("a", {"x": 1}, "call_1"),
        ("b", {"y": 2}, "call_2"),
    ]
    assert final.output_text == "Wait. "


def test_it_streams_chat_completions_text_tool_calls_and_usage(openai_double):
    openai_double.queue_tool_calls([("lookup", {"id": "u_1"}, "call_9")], text_before="One moment. ")
    stream = _client(openai_double).chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, args, usage = "", "", None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            for call in choice.delta.tool_calls or []:
                args += call.function.arguments or ""
    assert text == "One moment. "
    assert json.loads(args) == {"id": "u_1"}
    assert usage.completion_tokens > 0


def test_it_answers_errors_the_sdk_raises_as_typed_exceptions(openai_double):
    openai_double.queue_error(401)
    openai_double.queue_error(429)
    openai_double.queue_error(500)
    client = _client(openai_double)
    for expected in (openai.AuthenticationError, openai.RateLimitError, openai.InternalServerError):
        with pytest.raises(expected):
            client.responses.create(model="gpt-4o-mini", input="hi")


def test_a_mid_stream_failure_surfaces_as_an_sdk_error(openai_double):
    openai_double.queue_text("one two three", fail_after_tokens=1)
    stream = _client(openai_double).responses.create(model="gpt-4o-mini", input="hi", stream=True)
    with pytest.raises(openai.APIError):
        for _event in stream:
            pass


def test_it_lists_models_and_replies_with_a_default_when_the_queue_is_empty(openai_double):
    client = _client(openai_double)
    assert "gpt-4o-mini" in [m.id for m in client.models.list()]
    assert client.responses.create(model="gpt-4o-mini", input="hi").output_text == "OK."
