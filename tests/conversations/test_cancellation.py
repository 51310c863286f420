"""Cancelling a turn mid-stream (barge-in, client gone) keeps what was said, marked interrupted."""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest

from conversations.engine import run_turn
from conversations.engine.events import TextDelta
from conversations.services import conversation_start
from tests.conversations.engine_helpers import stored, turn

pytestmark = pytest.mark.django_db(transaction=True)
LONG = "one two three four five six seven eight nine ten eleven twelve"


@pytest.fixture
def conversation(bot):
    return conversation_start(bot=bot)


async def test_closing_the_event_stream_stores_the_partial_text_as_interrupted(openai_double, conversation):
    openai_double.queue_text(LONG, token_delay_s=0.05)
    heard = []
    async with contextlib.aclosing(run_turn(conversation, "count")) as events:
        async for event in events:
            if isinstance(event, TextDelta):
                heard.append(event.delta)
                if len(heard) == 3:
                    break

    rows = await stored(conversation)
    assert rows == [("user", "", "count", False), ("assistant", "", "one two three ", True)]


async def test_cancelling_the_consuming_task_stores_the_partial_text(openai_double, conversation):
    openai_double.queue_text(LONG, token_delay_s=0.05)
    three_heard = asyncio.Event()

    async def consume():
        count = 0
        async for event in run_turn(conversation, "count"):
            if isinstance(event, TextDelta):
                count += 1
                if count == 3:
                    three_heard.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(three_heard.wait(), timeout=10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    rows = await stored(conversation)
    assert rows[0] == ("user", "", "count", False)
    assert len(rows) == 2 and rows[1][0] == "assistant" and rows[1][3] is True
    assert rows[1][2].startswith("one two three") and rows[1][2] != LONG


async def test_the_next_turn_sees_the_interrupted_text_in_its_history(openai_double, conversation):
    openai_double.queue_text(LONG, token_delay_s=0.05)
    async with contextlib.aclosing(run_turn(conversation, "count")) as events:
        async for event in events:
            if isinstance(event, TextDelta):
                break
    await turn(conversation, "stop")

    history = [i for i in openai_double.requests[-1]["input"] if i.get("role") in ("user", "assistant")]
    assert history == [
        {"role": "user", "content": "count"},
        {"role": "assistant", "content": "one "},
        {"role": "user", "content": "stop"},
    ]


async def test_a_rest_stream_client_going_away_cancels_the_turn_and_keeps_the_partial_text(openai_double, conversation):
    from conversations.ndjson import ndjson_lines

    openai_double.queue_text(LONG, token_delay_s=0.05)
    lines = ndjson_lines(conversation.pk, lambda options: run_turn(conversation, "count", options=options))
    deltas = 0
    async for line in lines:
        deltas += json.loads(line)["type"] == "text_delta"
        if deltas == 2:
            break
    await lines.aclose()

    rows = await stored(conversation)
    assert rows == [("user", "", "count", False), ("assistant", "", "one two ", True)]


async def test_a_quiet_rest_stream_sends_pings(openai_double, conversation, monkeypatch):
    from conversations.ndjson import ndjson_lines

    openai_double.queue_text("Finally.", ttft_s=0.4)
    stream = ndjson_lines(
        conversation.pk, lambda options: run_turn(conversation, "hi", options=options), ping_after=0.05
    )
    lines = [json.loads(line) async for line in stream]

    types = [line["type"] for line in lines]
    assert "ping" in types and types[-1] == "done"
