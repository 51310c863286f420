"""The public socket's conversation flow, through the real engine and the loopback OpenAI double:
start/greet/chat/done, reconnecting to the same conversation, and tool calls kept server-side."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from conversations.models import Conversation, Message

pytestmark = pytest.mark.usefixtures("openai_double")

DONE_METRICS = {"model", "input_tokens_est", "output_tokens_est", "cost_usd_est", "llm_ttfb_ms", "llm_total_ms"}


async def _connect(open_socket, bot, secret, user="u1"):
    return await open_socket(bot.id, key=secret, user_conversation_id=user)


async def test_start_greets_a_new_visitor_and_done_carries_no_turn_details_by_default(
    open_socket, live_bot, make_key, openai_double
):
    key, secret, _ = await make_key()
    openai_double.queue_text("Welcome to the shop!")
    socket = await _connect(open_socket, live_bot, secret)
    await socket.send(type="start", req_id="s1")
    events = await socket.until("status", stage="idle")

    kinds = [e["type"] for e in events]
    assert kinds[0] == "conversation" and kinds[-1] == "status"
    assert "".join(e["delta"] for e in events if e["type"] == "text_delta") == "Welcome to the shop!"
    done = next(e for e in events if e["type"] == "done")
    assert done["text"] == "Welcome to the shop!" and done["req_id"] == "s1"
    assert done["metrics"] == {}  # site visitors see no model name, tokens, cost or timings
    assert not any(e["type"] in ("metrics", "tool_call", "tool_result") for e in events)
    assert events[0]["resume_token"]  # the browser that created it may reread it later
    assert all(e["req_id"] == "s1" for e in events)

    conversation = await database_sync_to_async(Conversation.objects.get)(pk=events[0]["conversation_id"])
    assert conversation.external_id == "u1" and conversation.client_key_id == key.id
    assert conversation.channel == "widget" and not conversation.has_voice
    assert conversation.test_flag is False
    await socket.close()


async def test_a_key_that_allows_turn_details_gets_the_metrics(open_socket, live_bot, make_key, openai_double):
    _, secret, _ = await make_key(show_turn_details=True)
    openai_double.queue_text("Welcome!")
    socket = await _connect(open_socket, live_bot, secret)
    await socket.send(type="start", req_id="s1")
    done = next(e for e in await socket.until("status", stage="idle") if e["type"] == "done")

    assert set(done["metrics"]) >= DONE_METRICS
    assert done["metrics"]["model"] == "gpt-4o-mini"
    await socket.close()


async def test_chat_streams_the_reply_and_stores_both_messages(open_socket, live_bot, make_key, openai_double):
    _, secret, _ = await make_key()
    openai_double.queue_text("Hello!")
    openai_double.queue_text("We open at nine tomorrow.")
    socket = await _connect(open_socket, live_bot, secret)
    await socket.send(type="start", req_id="s1")
    await socket.until("status", stage="idle")
    await socket.send(type="chat", req_id="c1", text="When do you open?", conversation_id="ignored")
    events = await socket.until("status", stage="idle")

    kinds = [e["type"] for e in events]
    assert kinds[0] == "conversation"
    assert kinds.index("status") < kinds.index("text_delta") < kinds.index("done")
    assert "".join(e["delta"] for e in events if e["type"] == "text_delta") == "We open at nine tomorrow."
    stored = await database_sync_to_async(
        lambda: list(
            Message.objects.filter(conversation_id=events[0]["conversation_id"]).values_list("role", "content")
        )
    )()
    assert stored == [
        ("assistant", "Hello!"),
        ("user", "When do you open?"),
        ("assistant", "We open at nine tomorrow."),
    ]
    await socket.close()


async def test_reconnecting_with_the_browser_secret_continues_the_conversation_without_a_new_greeting(
    open_socket, live_bot, make_key, openai_double
):
    _, secret, _ = await make_key()
    openai_double.queue_text("Hi!")
    first = await _connect(open_socket, live_bot, secret)
    await first.send(type="start", req_id="s1")
    opened = (await first.until("status", stage="idle"))[0]
    await first.close()

    again = await _connect(open_socket, live_bot, secret)
    await again.send(type="start", req_id="s2", resume_token=opened["resume_token"])
    events = await again.until("status", stage="idle")
    assert events[0]["conversation_id"] == opened["conversation_id"]
    assert [e["type"] for e in events] == ["conversation", "history", "status", "done", "status"]
    assert events[3] == {"type": "done", "text": "", "metrics": {}, "req_id": "s2"}
    assert openai_double.pending() == 0 and len(openai_double.requests) == 1
    await again.close()


async def test_reconnecting_with_only_the_user_id_starts_a_conversation_of_its_own(
    open_socket, live_bot, make_key, openai_double
):
    _, secret, _ = await make_key()
    openai_double.queue_text("Hi!")
    openai_double.queue_text("Hello, newcomer.")
    first = await _connect(open_socket, live_bot, secret)
    await first.send(type="start", req_id="s1")
    opened = (await first.until("status", stage="idle"))[0]
    await first.close()

    again = await _connect(open_socket, live_bot, secret)
    await again.send(type="start", req_id="s2")
    events = await again.until("status", stage="idle")
    assert events[0]["conversation_id"] != opened["conversation_id"]
    assert events[0]["resume_token"] != opened["resume_token"]  # knowing the user id proves nothing
    assert "history" not in [e["type"] for e in events]
    assert next(e for e in events if e["type"] == "done")["text"] == "Hello, newcomer."
    await again.close()


async def test_tool_calls_run_on_the_server_and_are_never_sent(open_socket, live_bot, make_key, openai_double):
    _, secret, _ = await make_key()
    openai_double.queue_text("Hi!")
    openai_double.queue_tool_call("set_metadata", {"firstName": "Ana", "next_reply": "Nice to meet you, Ana."})
    socket = await _connect(open_socket, live_bot, secret)
    await socket.send(type="start", req_id="s1")
    await socket.until("status", stage="idle")
    await socket.send(type="chat", req_id="c1", text="I am Ana")
    events = await socket.until("status", stage="idle")

    assert not [e for e in events if e["type"] in ("tool_call", "tool_result", "metrics")]
    assert next(e for e in events if e["type"] == "done")["text"] == "Nice to meet you, Ana."
    conversation = await database_sync_to_async(Conversation.objects.get)(pk=events[0]["conversation_id"])
    assert conversation.metadata.get("firstName") == "Ana"
    await socket.close()


async def test_chat_without_start_creates_the_conversation(open_socket, live_bot, make_key, openai_double):
    _, secret, _ = await make_key()
    openai_double.queue_text("Sure.")
    socket = await _connect(open_socket, live_bot, secret, user="direct")
    await socket.send(type="chat", req_id="c1", text="Hello")
    events = await socket.until("status", stage="idle")
    assert events[0]["type"] == "conversation"
    assert next(e for e in events if e["type"] == "done")["text"] == "Sure."
    await socket.close()


async def test_a_model_failure_is_an_error_event_and_the_socket_stays_usable(
    open_socket, live_bot, make_key, openai_double
):
    _, secret, _ = await make_key()
    openai_double.queue_text("Hi!")
    openai_double.queue_error(500)
    openai_double.queue_text("Back again.")
    socket = await _connect(open_socket, live_bot, secret)
    await socket.send(type="start", req_id="s1")
    await socket.until("status", stage="idle")
    await socket.send(type="chat", req_id="c1", text="Hello?")
    events = await socket.until("status", stage="idle")
    assert any(e["type"] == "error" for e in events)
    await socket.send(type="chat", req_id="c2", text="Hello again?")
    events = await socket.until("status", stage="idle")
    assert next(e for e in events if e["type"] == "done")["text"] == "Back again."
    await socket.close()


async def test_a_chat_sent_the_moment_done_arrives_is_answered_not_refused_as_busy(
    open_socket, live_bot, make_key, openai_double
):
    _, secret, _ = await make_key()
    openai_double.queue_text("Welcome!")
    openai_double.queue_text("We open at nine.")
    socket = await _connect(open_socket, live_bot, secret)
    await socket.send(type="start", req_id="s1")
    await socket.until("done")
    await socket.send(type="chat", req_id="c1", text="When do you open?")  # before the greeting's idle
    events = []
    while not any(e["type"] == "done" and e.get("req_id") == "c1" for e in events):
        events.append(await socket.receive())
        assert not (events[-1]["type"] == "error" and events[-1].get("req_id") == "c1"), events[-1]
    assert [e for e in events if e["type"] == "done" and e["req_id"] == "c1"][0]["text"] == "We open at nine."
    await socket.close()
