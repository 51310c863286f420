"""The engine's model transport (aiohttp under the SDK): the provider peer check holds on a real
connection, the pooled client is reused, and the SSE body decodes into the same events."""

from __future__ import annotations

import openai
import pytest

from conversations.engine import llm
from conversations.engine.llm import LLMTarget, StreamEnd, TextChunk, stream_model
from conversations.engine.provider_http import ProviderAddressBlocked, guarded_aiohttp_client


async def test_a_refused_peer_is_closed_before_the_request_and_its_key_are_sent(openai_double):
    seen: list[str] = []

    def refuse(address: str) -> bool:
        seen.append(address)
        return False

    client = openai.AsyncOpenAI(
        api_key="sk-secret",
        base_url=openai_double.base_url,
        max_retries=0,
        http_client=guarded_aiohttp_client(peer_allowed=refuse),
    )
    try:
        with pytest.raises(ProviderAddressBlocked):
            await client.models.list()
    finally:
        await client.close()
    assert seen == ["127.0.0.1"]  # the address actually connected to
    assert openai_double.paths == []  # nothing reached the server


async def test_the_engine_client_talks_aiohttp_and_is_reused(openai_double):
    target = LLMTarget("sk-test-double", openai_double.base_url, llm.RESPONSES, "gpt-4o-mini")
    client = llm.client_for(target)
    assert client is llm.client_for(target)
    assert type(client._client).__name__ == "_GuardedAiohttpClient"
    for text in ("First reply.", "Second reply."):
        openai_double.queue_text(text)
        events = [event async for event in stream_model(target, [{"role": "user", "content": "hi"}], [])]
        assert "".join(e.text for e in events if isinstance(e, TextChunk)) == text
        assert isinstance(events[-1], StreamEnd) and events[-1].output_tokens is not None


def test_sse_data_lines_join_and_comments_are_skipped():
    assert llm._sse_data(b'data: {"a": 1}') == b'{"a": 1}'
    assert llm._sse_data(b'event: x\ndata: {"a":\ndata:  1}') == b'{"a":\n 1}'
    assert llm._sse_data(b": keep-alive") is None


@pytest.mark.parametrize("style", ["responses", "chat_completions"])
async def test_the_first_delta_goes_out_alone_when_the_reply_arrives_in_one_read(openai_double, style):
    """Deltas that arrive in one network read are sent as one chunk (fewer websocket frames for a
    process that falls behind), but the first is never held back to be merged with the next."""
    reply = "Sure, the store opens at nine in the morning and closes at six."
    openai_double.queue_text(reply, burst=True)
    target = LLMTarget("sk-test-double", openai_double.base_url, style, "m")

    chunks = [event.text async for event in stream_model(target, [], []) if isinstance(event, TextChunk)]

    assert chunks[0] == "Sure, "  # the first word-sized delta, alone
    assert "".join(chunks) == reply
    assert len(chunks) < len(reply.split())  # the rest was merged
