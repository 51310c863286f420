"""Provider failures end a turn with a readable Error event (no Done); the user's message stays."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from bots.models import ProviderKey
from conversations.engine.events import Done, TextDelta
from conversations.services import conversation_start
from tests.conversations.engine_helpers import error, said, stored, turn

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def conversation(bot):
    return conversation_start(bot=bot)


async def test_no_key_gives_a_clear_error_and_keeps_the_user_message(conversation):
    events = await turn(conversation, "hello?")

    assert error(events).message == "No OpenAI key configured for this bot."
    assert error(events).code == "no_key"
    assert await stored(conversation) == [("user", "", "hello?", False)]


@pytest.mark.parametrize(
    ("status", "code", "words"),
    [
        (401, "provider_auth", "rejected the API key"),
        (429, "provider_rate_limit", "rate-limiting"),
        (500, "provider_error", "had an error (500)"),
    ],
)
async def test_provider_errors_become_error_events(openai_double, conversation, status, code, words):
    openai_double.queue_error(status)
    events = await turn(conversation, "hi")

    assert error(events).code == code and words in error(events).message
    assert await stored(conversation) == [("user", "", "hi", False)]


async def test_a_provider_timeout_becomes_an_error_event(openai_double, conversation, settings):
    settings.VOICEBOT_OPENAI_TIMEOUT_S = 0.3
    openai_double.queue_text("too late", ttft_s=2)
    events = await turn(conversation, "hi")

    assert error(events).code == "provider_timeout"
    assert await stored(conversation) == [("user", "", "hi", False)]


async def test_sdk_retries_recover_from_a_transient_error(openai_double, conversation, settings):
    settings.VOICEBOT_OPENAI_MAX_RETRIES = 1
    openai_double.queue_error(500)
    openai_double.queue_text("Recovered.")
    events = await turn(conversation, "hi")

    assert said(events) == "Recovered."
    assert len(openai_double.requests) == 2


@pytest.mark.parametrize("failure", ["disconnect", "error_event"])
async def test_a_stream_that_breaks_midway_keeps_the_partial_text(openai_double, conversation, failure):
    openai_double.queue_text("Hello there, friend.", fail_after_tokens=2, failure=failure)
    events = await turn(conversation, "hi")

    assert said(events) == "Hello there, "
    assert error(events).code == "provider_error"
    assert await stored(conversation) == [("user", "", "hi", False), ("assistant", "", "Hello there, ", True)]


async def test_a_bot_key_that_cannot_be_decrypted_is_reported(conversation, bot, settings):
    from cryptography.fernet import Fernet

    key = ProviderKey(name="k")
    key.set_secret("sk-abcdefghijklmnop")
    await sync_to_async(key.save)()
    bot.openai_key = key
    await sync_to_async(bot.save)()
    settings.VOICEBOT_SECRET_KEY = Fernet.generate_key().decode()  # not the key it was stored with
    events = await turn(conversation, "hi")

    assert error(events).code == "key_error"
    assert "sk-abcdefghijklmnop" not in error(events).message


async def test_an_unknown_conversation_is_an_error_not_a_crash(openai_double, conversation):
    await sync_to_async(conversation.delete)()
    events = await turn(conversation, "hi")

    assert error(events).message == "Conversation not found"
    assert not [e for e in events if isinstance(e, (Done, TextDelta))]
