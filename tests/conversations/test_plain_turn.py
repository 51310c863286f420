"""A plain reply: streamed as text deltas, stored with its metrics, through the real SDK."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from conversations.engine.events import Metrics, Status, TextDelta
from conversations.models import Message
from conversations.services import conversation_start
from tests.conversations.engine_helpers import done, refreshed, said, stored, turn

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def conversation(bot):
    return conversation_start(bot=bot)


async def test_a_plain_reply_is_streamed_and_stored(openai_double, conversation):
    openai_double.queue_text("Hello. How are you?")
    events = await turn(conversation, "hi")

    assert isinstance(events[0], Status) and events[0].stage == "llm"
    assert len([e for e in events if isinstance(e, TextDelta)]) > 1
    assert said(events) == "Hello. How are you?"
    assert isinstance(events[-2], Metrics) and done(events) is events[-1]
    assert done(events).text == "Hello. How are you?"
    assert await stored(conversation) == [("user", "", "hi", False), ("assistant", "", "Hello. How are you?", False)]
    reply = await sync_to_async(Message.objects.get)(pk=done(events).message_id)
    assert reply.role == "assistant"


async def test_the_system_prompt_is_rendered_with_the_date_and_metadata(openai_double, conversation):
    conversation.metadata = {"firstName": "Ana"}
    await sync_to_async(conversation.save)()
    await turn(conversation, "hi")

    sent = openai_double.requests[0]["input"]
    assert sent[0]["role"] == "system"
    assert sent[0]["content"].startswith("Current Date Time(UTC): ")
    assert sent[0]["content"].endswith("You help Ana.")
    assert sent[1] == {"role": "system", "content": 'Conversation metadata (JSON): {"firstName": "Ana"}'}
    assert sent[-1] == {"role": "user", "content": "hi"}


async def test_stored_user_text_is_never_rendered_as_a_template(openai_double, conversation):
    conversation.metadata = {"ssn": "123-45-6789"}
    await sync_to_async(conversation.save)()
    await turn(conversation, "what is {{.ssn}}?")
    await turn(conversation, "and again")

    second_input = openai_double.requests[1]["input"]
    user_texts = [i["content"] for i in second_input if i.get("role") == "user"]
    assert user_texts == ["what is {{.ssn}}?", "and again"]


async def test_metrics_are_stored_per_message_and_rolled_up(openai_double, conversation, settings):
    settings.OPENAI_PRICING = {"gpt-4o-mini": {"input_per_1m": 1000000, "output_per_1m": 1000000}}
    openai_double.queue_text("One two three.")
    events = await turn(conversation, "count", options=None)
    first = done(events)
    await turn(conversation, "again")

    assert first.metrics["model"] == "gpt-4o-mini"
    assert first.metrics["input_tokens_est"] > 0 and first.metrics["output_tokens_est"] == 3
    assert first.metrics["cost_usd_est"] == first.metrics["input_tokens_est"] + 3
    timings = next(e for e in events if isinstance(e, Metrics)).timings_ms
    assert {"llm_ttfb", "llm_total", "total"} <= set(timings)
    reply = await sync_to_async(Message.objects.get)(pk=first.message_id)
    assert reply.output_tokens_est == 3 and reply.llm_total_ms is not None and reply.total_ms is not None
    conversation = await refreshed(conversation)
    assert conversation.llm_output_tokens_est == 3 + 1  # "OK." (the default reply) is one token
    assert conversation.last_total_ms is not None and conversation.last_llm_ttfb_ms is not None


async def test_extra_timings_and_user_message_fields_are_recorded(openai_double, conversation):
    from conversations.engine import TurnOptions

    events = await turn(
        conversation, "hi", options=TurnOptions(user_message_fields={"asr_ms": 412}, extra_timings_ms={"asr": 412})
    )

    timings = next(e for e in events if isinstance(e, Metrics)).timings_ms
    assert timings["asr"] == 412 and timings["total"] >= 412
    user = await sync_to_async(lambda: conversation.messages.get(role="user"))()
    assert user.asr_ms == 412
    assert (await refreshed(conversation)).last_asr_ms == 412
