"""The opening message: static text or model-written (start_message_mode), stored as the first message."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from conversations.engine.events import Metrics
from conversations.services import conversation_start
from tests.conversations.engine_helpers import done, error, greet, said, stored

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def conversation(bot):
    return conversation_start(bot=bot)


async def test_a_static_greeting_needs_no_model_and_no_key(conversation, bot):
    bot.start_message_mode = "static"
    bot.start_message_text = "Welcome!"
    await sync_to_async(bot.save)()
    events = await greet(conversation)

    assert said(events) == "Welcome!" and done(events).text == "Welcome!"
    assert "total" in next(e for e in events if isinstance(e, Metrics)).timings_ms
    assert await stored(conversation) == [("assistant", "", "Welcome!", False)]


async def test_a_model_greeting_uses_the_rendered_prompt_and_the_opening_instruction(openai_double, conversation):
    openai_double.queue_text("Hi! What can I do for you?")
    events = await greet(conversation)

    body = openai_double.requests[0]
    assert "tools" not in body
    assert body["input"][0]["content"].startswith("Current Date Time(UTC): ")
    assert body["input"][1]["content"].startswith("Generate a short opening message")
    assert done(events).text == "Hi! What can I do for you?"
    assert done(events).metrics["input_tokens_est"] > 0
    assert await stored(conversation) == [("assistant", "", "Hi! What can I do for you?", False)]


async def test_an_empty_model_greeting_falls_back_to_a_default(openai_double, conversation):
    openai_double.queue_text("")
    events = await greet(conversation)

    assert done(events).text == "Hi! How can I help you today?"
    assert said(events) == "Hi! How can I help you today?"


async def test_a_model_greeting_without_a_key_is_an_error(conversation):
    events = await greet(conversation)

    assert error(events).message == "No OpenAI key configured for this bot."
    assert await stored(conversation) == []
