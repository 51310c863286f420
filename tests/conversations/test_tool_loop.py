"""Tool calls in a turn: set_metadata with next_reply, a real multi-step loop with function-call
outputs sent back, disabled/unknown tools and malformed arguments answered without dying."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async

from bots.services import bot_create
from conversations.engine.events import Interim, ToolCall, ToolResult
from conversations.services import conversation_start
from tests.conversations import sample_tools  # noqa: F401  (registers the provider)
from tests.conversations.engine_helpers import done, refreshed, said, stored, turn

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def toolbox_bot(db):
    return bot_create(name="toolbox bot", system_prompt="You help {{.firstName}}.", openai_model="gpt-4o-mini")


@pytest.fixture
def conversation(toolbox_bot):
    return conversation_start(bot=toolbox_bot)


def tool_names(request_body) -> list[str]:
    return [t["name"] for t in request_body.get("tools", [])]


def outputs(request_body) -> dict[str, dict]:
    return {
        i["call_id"]: json.loads(i["output"]) for i in request_body["input"] if i.get("type") == "function_call_output"
    }


async def test_set_metadata_nests_dotted_keys_and_says_the_rendered_next_reply(openai_double, conversation):
    openai_double.queue_tool_call(
        "set_metadata",
        {"firstName": "Ana", "user.city": "Pune", "next_reply": "Nice to meet you {{.firstName}} from {{.user.city}}!"},
        call_id="call_meta",
    )
    events = await turn(conversation, "I am Ana from Pune")

    assert tool_names(openai_double.requests[0])[0] == "set_metadata"
    assert [type(e).__name__ for e in events if isinstance(e, (ToolCall, ToolResult))] == ["ToolCall", "ToolResult"]
    assert said(events) == "Nice to meet you Ana from Pune!"
    assert done(events).text == "Nice to meet you Ana from Pune!"
    assert len(openai_double.requests) == 1  # no second model call
    conversation = await refreshed(conversation)
    assert conversation.metadata == {"firstName": "Ana", "user": {"city": "Pune"}}
    rows = await stored(conversation)
    assert [(r[0], r[1]) for r in rows] == [("user", ""), ("tool", "call"), ("tool", "result"), ("assistant", "")]
    assert rows[-1][2] == "Nice to meet you Ana from Pune!"
    assert json.loads(rows[2][2])["result"]["updated"] == {"firstName": "Ana", "user.city": "Pune"}


async def test_a_stored_reply_keeps_its_words_when_the_metadata_changes_later(openai_double, conversation):
    openai_double.queue_tool_call("set_metadata", {"firstName": "Ana", "next_reply": "Hi {{.firstName}}"})
    await turn(conversation, "I am Ana")
    openai_double.queue_tool_call("set_variable", {"firstName": "Kabir", "next_reply": "Hi {{.firstName}}"})
    await turn(conversation, "No, I am Kabir")
    await turn(conversation, "ok")

    last_input = openai_double.requests[-1]["input"]
    assistant = [i["content"] for i in last_input if i.get("role") == "assistant"]
    assert assistant == ["Hi Ana", "Hi Kabir"]
    assert last_input[0]["content"].endswith("You help Kabir.")
    # Past calls go back to the model as real function calls with their outputs.
    assert [i["type"] for i in last_input if i.get("type")] == ["function_call", "function_call_output"] * 2


async def test_set_metadata_without_next_reply_asks_the_model_with_the_result(openai_double, conversation):
    openai_double.queue_tool_call("set_metadata", {"plan": "gold"}, call_id="call_1")
    openai_double.queue_text("Saved your plan.")
    events = await turn(conversation, "I want gold")

    assert done(events).text == "Saved your plan."
    follow_up = openai_double.requests[1]
    assert outputs(follow_up)["call_1"] == {"ok": True, "updated": {"plan": "gold"}}
    assert follow_up["input"][1]["content"] == 'Conversation metadata (JSON): {"plan": "gold"}'


async def test_two_tools_chain_in_one_turn_with_outputs_sent_back(openai_double, conversation):
    openai_double.queue_tool_call("lookup_user", {"email": "ana@example.com"}, call_id="call_a")
    openai_double.queue_tool_call("list_orders", {"user_id": "u_1"}, call_id="call_b")
    openai_double.queue_text("You have one order, o_9, for 42.")
    events = await turn(conversation, "what are my orders? I am ana@example.com")

    assert len(openai_double.requests) == 3
    assert outputs(openai_double.requests[1]) == {"call_a": {"ok": True, "user_id": "u_1"}}
    assert outputs(openai_double.requests[2])["call_b"] == {"ok": True, "orders": [{"id": "o_9", "total": 42}]}
    assert [e.kind for e in events if isinstance(e, Interim)] == ["progress"]
    assert [e.name for e in events if isinstance(e, ToolResult)] == ["lookup_user", "list_orders"]
    assert done(events).text == "You have one order, o_9, for 42."
    rows = await stored(conversation)
    assert [r[1] for r in rows if r[0] == "tool"] == ["call", "result", "call", "result"]


async def test_several_calls_in_one_response_run_in_order(openai_double, conversation):
    openai_double.queue_tool_calls(
        [("set_metadata", {"a": 1}, "c1"), ("lookup_user", {"email": "ana@example.com"}, "c2")]
    )
    openai_double.queue_text("Done.")
    events = await turn(conversation, "go")

    assert [e.call_id for e in events if isinstance(e, ToolResult)] == ["c1", "c2"]
    assert set(outputs(openai_double.requests[1])) == {"c1", "c2"}


async def test_a_tool_reply_ends_the_turn_without_another_model_call(openai_double, conversation):
    openai_double.queue_tool_call("greeter", {"who": "Ana", "wait_reply": "One moment…"})
    events = await turn(conversation, "greet me")

    assert [(e.kind, e.text) for e in events if isinstance(e, Interim)] == [("wait", "One moment…")]
    assert done(events).text == "Hello Ana!"
    assert len(openai_double.requests) == 1


async def test_text_said_before_a_tool_call_is_stored(openai_double, conversation):
    openai_double.queue_tool_call("set_metadata", {"x": 1, "next_reply": "Saved."}, text_before="Let me note that. ")
    events = await turn(conversation, "note x")

    assert said(events) == "Let me note that. Saved."
    rows = await stored(conversation)
    assert [(r[0], r[2]) for r in rows if r[0] == "assistant"] == [
        ("assistant", "Let me note that. "),
        ("assistant", "Saved."),
    ]


async def test_a_disabled_tool_is_not_offered_and_refused_when_called(openai_double, conversation, toolbox_bot):
    toolbox_bot.disabled_tools = ["lookup_user", "set_metadata"]
    await sync_to_async(toolbox_bot.save)()
    openai_double.queue_tool_call("lookup_user", {"email": "ana@example.com"}, call_id="call_x")
    openai_double.queue_text("Sorry, I cannot look that up.")
    events = await turn(conversation, "find me")

    offered = tool_names(openai_double.requests[0])
    assert "lookup_user" not in offered and "set_metadata" in offered  # set_metadata cannot be disabled
    result = next(e for e in events if isinstance(e, ToolResult))
    assert result.ok is False and result.result["error"]["message"] == "Tool 'lookup_user' is disabled for this bot."
    assert done(events).text == "Sorry, I cannot look that up."


async def test_an_unknown_tool_is_answered_and_the_turn_goes_on(openai_double, conversation):
    openai_double.queue_tool_call("launch_rockets", {}, call_id="call_u")
    openai_double.queue_text("I can't do that.")
    events = await turn(conversation, "launch")

    result = next(e for e in events if isinstance(e, ToolResult))
    assert result.ok is False and "Unknown tool 'launch_rockets'" in result.result["error"]["message"]
    assert outputs(openai_double.requests[1])["call_u"]["ok"] is False
    assert done(events).text == "I can't do that."


async def test_malformed_arguments_are_answered_and_the_turn_goes_on(openai_double, conversation):
    openai_double.queue_tool_call("set_metadata", '{"name": "Ana", oops', call_id="call_bad")
    openai_double.queue_text("Could you repeat your name?")
    events = await turn(conversation, "I am Ana")

    result = next(e for e in events if isinstance(e, ToolResult))
    assert result.ok is False and "not valid JSON" in result.result["error"]["message"]
    assert done(events).text == "Could you repeat your name?"
    assert (await refreshed(conversation)).metadata == {}


async def test_a_tool_that_crashes_is_reported_to_the_model(openai_double, conversation):
    openai_double.queue_tool_call("broken", {}, call_id="call_b")
    openai_double.queue_text("That failed, sorry.")
    events = await turn(conversation, "break it")

    assert outputs(openai_double.requests[1])["call_b"] == {
        "ok": False,
        "error": {"message": "Tool 'broken' failed while running."},
    }
    assert done(events).text == "That failed, sorry."


async def test_the_loop_stops_offering_tools_after_the_step_limit(openai_double, conversation, settings):
    settings.VOICEBOT_MAX_TOOL_STEPS = 2
    openai_double.queue_tool_call("lookup_user", {"email": "ana@example.com"})
    openai_double.queue_tool_call("lookup_user", {"email": "ana@example.com"})
    openai_double.queue_text("Here is what I found.")
    events = await turn(conversation, "loop")

    assert len(openai_double.requests) == 3
    assert "tools" not in openai_double.requests[2]
    system_texts = [i["content"] for i in openai_double.requests[2]["input"] if i.get("role") == "system"]
    assert any("tool-call limit" in text for text in system_texts)
    assert done(events).text == "Here is what I found."
