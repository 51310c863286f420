"""A turn's database work: the reads and the one INSERT as it starts, one transaction at its end
(conversations.services: the turn's statements are built once per connection, not compiled per turn)."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync

from conversations.engine.bot_config import turn_config
from conversations.models import Conversation, Message
from conversations.services import assistant_reply_store, turn_user_message_store
from tests.integrations.conftest import run_turn_events
from tests.user_data import conversation_with, finished_turn


def test_a_turn_end_stores_the_reply_and_rolls_up_the_conversation(bot):
    conversation = conversation_with(bot)
    finished_turn(conversation, input_tokens=5, cost_usd=0.5)  # an earlier turn's rollups
    before = Conversation.objects.get(pk=conversation.pk).updated_at
    reply = assistant_reply_store(
        conversation=conversation,
        text="Hello.",
        input_tokens=10,
        output_tokens=3,
        cost_usd=0.25,
        timings_ms={"llm_ttfb": 120, "total": 300, "unknown": 1},
    )
    stored = Message.objects.get(pk=reply.pk)
    assert (stored.role, stored.content, stored.interrupted) == ("assistant", "Hello.", False)
    assert (stored.input_tokens_est, stored.output_tokens_est, stored.cost_usd_est) == (10, 3, 0.25)
    assert (stored.llm_ttfb_ms, stored.total_ms, stored.asr_ms) == (120, 300, None)
    assert stored.created_at == reply.created_at and not reply._state.adding
    row = Conversation.objects.get(pk=conversation.pk)
    assert (row.llm_input_tokens_est, row.llm_output_tokens_est, row.cost_usd_est) == (15, 3, 0.75)
    assert (row.last_llm_ttfb_ms, row.last_total_ms, row.last_asr_ms) == (120, 300, None)
    assert row.updated_at > before


def test_an_interrupted_turn_without_text_only_rolls_up(bot):
    conversation = conversation_with(bot)
    assert assistant_reply_store(conversation=conversation, text="", output_tokens=4, store_message=False) is None
    assert not Message.objects.filter(conversation=conversation).exists()
    assert Conversation.objects.get(pk=conversation.pk).llm_output_tokens_est == 4


def test_a_spoken_user_message_marks_the_conversation_as_voice(bot):
    conversation = conversation_with(bot)
    turn_user_message_store(conversation_id=conversation.pk, content="typed")
    assert not Conversation.objects.get(pk=conversation.pk).has_voice
    message = turn_user_message_store(conversation_id=conversation.pk, content="spoken", asr_ms=412)
    assert Message.objects.get(pk=message.pk).asr_ms == 412
    assert Conversation.objects.get(pk=conversation.pk).has_voice


def test_a_plain_turn_reads_twice_and_writes_twice(bot, openai_double, django_assert_max_num_queries):
    conversation = conversation_with(bot, metadata={"firstName": "Ana"})
    turn_config(bot.pk)  # the bot's configuration is cached per process (bots.config_cache)
    # metadata, history, user INSERT; then one transaction: reply INSERT and rollup UPDATE (in a test's
    # own transaction it opens with SAVEPOINT and ends with RELEASE, both counted here)
    with django_assert_max_num_queries(7):
        events = async_to_sync(run_turn_events)(conversation, "hi")
    assert events[-1].text == "OK."
    assert list(
        Message.objects.filter(conversation=conversation).order_by("created_at").values_list("role", flat=True)
    ) == [
        "user",
        "assistant",
    ]


@pytest.mark.parametrize("text", ["When do you open?", "{{.ssn}}"])
def test_the_user_message_goes_to_the_model_as_typed(bot, openai_double, text):
    conversation = conversation_with(bot, metadata={"ssn": "123"})
    async_to_sync(run_turn_events)(conversation, text)
    assert openai_double.requests[-1]["input"][-1] == {"role": "user", "content": text}
