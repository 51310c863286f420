"""Two turns on one conversation at once (two Studio tabs, REST and a widget): the second is refused
with a `busy` error and stores nothing; once the first ends, or is cancelled, the next turn runs."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from conversations.engine import run_turn
from conversations.engine.events import TextDelta
from conversations.services import conversation_start
from tests.conversations.engine_helpers import done, error, stored, turn

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def conversation(bot):
    return conversation_start(bot=bot)


async def test_a_second_turn_while_one_runs_is_refused_and_stores_nothing(openai_double, conversation):
    openai_double.queue_text("The first answer, slowly.", ttft_s=0.5)
    openai_double.queue_text("The third answer.")
    first = asyncio.create_task(turn(conversation, "first"))
    await asyncio.sleep(0.2)  # the first turn now waits for its first token

    second = await turn(conversation, "second")

    assert error(second).code == "busy"
    assert "Another turn is already running" in error(second).message
    assert done(await first).text == "The first answer, slowly."
    assert done(await turn(conversation, "third")).text == "The third answer."
    rows = await stored(conversation)
    assert [(role, content) for role, _tool, content, _interrupted in rows] == [
        ("user", "first"),
        ("assistant", "The first answer, slowly."),
        ("user", "third"),
        ("assistant", "The third answer."),
    ]


async def test_a_cancelled_turn_gives_the_conversation_back_at_once(openai_double, conversation):
    openai_double.queue_text("one two three four five six seven eight", token_delay_s=0.05)
    openai_double.queue_text("Back again.")
    async with contextlib.aclosing(run_turn(conversation, "count")) as events:
        async for event in events:
            if isinstance(event, TextDelta):
                break

    assert done(await turn(conversation, "again")).text == "Back again."
