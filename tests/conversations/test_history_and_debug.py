"""Model input details: the token budget trims the oldest turns; debug mode shows and stores the
exact request and keeps it out of later history; timings recorded after the turn."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async

from conversations.engine import TurnOptions
from conversations.engine.events import ToolCall
from conversations.models import Message
from conversations.services import conversation_start, message_record_timings
from tests.conversations.engine_helpers import done, refreshed, turn

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def conversation(bot):
    return conversation_start(bot=bot)


async def test_the_token_budget_drops_the_oldest_turns(openai_double, conversation, settings):
    for n in range(6):
        openai_double.queue_text(f"Answer {n}. " + "words " * 40)
        await turn(conversation, f"question {n} " + "padding " * 40)
    settings.VOICEBOT_HISTORY_TOKEN_BUDGET = 500
    await turn(conversation, "latest")

    users = [i["content"] for i in openai_double.requests[-1]["input"] if i.get("role") == "user"]
    assert users[-1] == "latest"
    assert 1 <= len(users) < 7
    assert users[0].startswith(f"question {7 - len(users)}")  # a contiguous tail of whole turns


async def test_debug_mode_shows_and_stores_the_request_but_never_replays_it(openai_double, conversation):
    events = await turn(conversation, "hi", options=TurnOptions(debug=True))
    debug = next(e for e in events if isinstance(e, ToolCall))
    payload = json.loads(debug.arguments_json)

    assert debug.name == "debug_llm_request" and payload["phase"] == "chat_llm"
    assert payload["payload"]["input"] == openai_double.requests[0]["input"]
    assert await sync_to_async(Message.objects.filter(tool_name="debug_llm_request").count)() == 1
    await turn(conversation, "again")
    assert "debug_llm_request" not in json.dumps(openai_double.requests[1]["input"])


async def test_timings_recorded_after_the_turn_update_the_message_and_conversation(openai_double, conversation):
    events = await turn(conversation, "hi")
    await sync_to_async(message_record_timings)(done(events).message_id, tts_first_audio=180)

    message = await sync_to_async(Message.objects.get)(pk=done(events).message_id)
    assert message.tts_first_audio_ms == 180
    assert (await refreshed(conversation)).last_tts_first_audio_ms == 180


async def test_token_counts_fall_back_to_an_estimate_without_usage(openai_double, conversation):
    openai_double.report_usage = False
    openai_double.queue_text("A reply of some length.")
    events = await turn(conversation, "hi")

    metrics = done(events).metrics
    assert metrics["output_tokens_est"] > 0 and metrics["input_tokens_est"] > 0
