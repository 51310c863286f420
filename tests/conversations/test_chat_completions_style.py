"""A key with api_style=chat_completions (Ollama, vLLM, …) runs the same turn over Chat Completions."""

from __future__ import annotations

import json

import pytest

from bots.services import bot_create, provider_key_create
from conversations.engine.events import ToolResult
from conversations.services import conversation_start
from tests.conversations import sample_tools  # noqa: F401
from tests.conversations.engine_helpers import done, refreshed, said, stored, turn

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def chat_bot(openai_double, settings):
    settings.OPENAI_API_KEY = ""  # only the bot's own key may be used
    key = provider_key_create(
        name="local server",
        secret="sk-local-server-key-123",
        base_url=openai_double.base_url,
        api_style="chat_completions",
    )
    return bot_create(
        name="toolbox chat", system_prompt="You help {{.firstName}}.", openai_model="llama3", openai_key=key
    )


@pytest.fixture
def conversation(chat_bot):
    return conversation_start(bot=chat_bot)


async def test_a_plain_reply_streams_over_chat_completions(openai_double, conversation):
    openai_double.queue_text("Hello from a local model.")
    events = await turn(conversation, "hi")

    assert said(events) == "Hello from a local model."
    assert openai_double.paths == ["/v1/chat/completions"]
    assert openai_double.headers[0]["authorization"] == "Bearer sk-local-server-key-123"
    body = openai_double.requests[0]
    assert body["messages"][0]["role"] == "system" and body["messages"][-1] == {"role": "user", "content": "hi"}
    assert body["tools"][0]["type"] == "function" and body["tools"][0]["function"]["name"] == "set_metadata"
    assert done(events).metrics["output_tokens_est"] > 0
    assert [r[0] for r in await stored(conversation)] == ["user", "assistant"]


async def test_set_metadata_and_next_reply_work_the_same(openai_double, conversation):
    openai_double.queue_tool_call("set_metadata", {"firstName": "Ana", "next_reply": "Hi {{.firstName}}!"})
    events = await turn(conversation, "I am Ana")

    assert done(events).text == "Hi Ana!"
    assert (await refreshed(conversation)).metadata == {"firstName": "Ana"}


async def test_a_tool_chain_sends_tool_messages_back(openai_double, conversation):
    openai_double.queue_tool_call(
        "lookup_user", {"email": "ana@example.com"}, call_id="call_a", text_before="Checking. "
    )
    openai_double.queue_tool_call("list_orders", {"user_id": "u_1"}, call_id="call_b")
    openai_double.queue_text("One order.")
    events = await turn(conversation, "orders?")

    assert [e.name for e in events if isinstance(e, ToolResult)] == ["lookup_user", "list_orders"]
    last = openai_double.requests[2]["messages"]
    assistant_calls = [m for m in last if m.get("tool_calls")]
    assert assistant_calls[0]["content"] == "Checking. "
    assert [m["tool_calls"][0]["id"] for m in assistant_calls] == ["call_a", "call_b"]
    tool_messages = [m for m in last if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_messages] == ["call_a", "call_b"]
    assert json.loads(tool_messages[0]["content"]) == {"ok": True, "user_id": "u_1"}
    # each tool message directly follows the assistant message that made the call
    for index, message in enumerate(last):
        if message["role"] == "tool":
            assert last[index - 1].get("tool_calls")
    assert done(events).text == "One order."

    await turn(conversation, "thanks")  # the stored history converts to valid messages too
    history = openai_double.requests[3]["messages"]
    assert [m["role"] for m in history[1:]] == ["user", "assistant", "tool", "assistant", "tool", "assistant", "user"]
