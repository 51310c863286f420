"""A client that goes away while the bot is still answering (tab closed, network gone): the words the
bot had already said are stored and marked interrupted, no empty or half-made rows are left, the
conversation's turn lock is released, and the same user can reconnect and chat on."""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.db import database_sync_to_async

from conversations.models import Conversation, Message

pytestmark = pytest.mark.django_db(transaction=True)
LONG = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen"


def _rows(conversation_id: str) -> list[tuple]:
    return list(
        Message.objects.filter(conversation_id=conversation_id)
        .order_by("created_at")
        .values_list("role", "content", "interrupted")
    )


rows = database_sync_to_async(_rows)


async def _settled(conversation_id: str, expected: int) -> list[tuple]:
    """The server finishes storing after the socket is gone; wait (bounded) for the rows."""
    for _ in range(100):
        stored = await rows(conversation_id)
        if len(stored) >= expected:
            return stored
        await asyncio.sleep(0.05)
    return await rows(conversation_id)


async def test_leaving_the_public_socket_mid_reply_stores_the_partial_text_as_interrupted(
    open_socket, live_bot, make_key, openai_double
):
    _, secret, _ = await make_key()
    openai_double.queue_text(LONG, token_delay_s=0.1)
    socket = await open_socket(live_bot.id, key=secret, user_conversation_id="leaver")
    await socket.send(type="chat", req_id="c1", text="Count for me")
    heard = []
    conversation_id = browser_secret = None
    while len(heard) < 3:
        event = await socket.receive()
        conversation_id = event.get("conversation_id", conversation_id)
        browser_secret = event.get("resume_token", browser_secret)
        if event["type"] == "text_delta":
            heard.append(event["delta"])
    await socket.close()

    stored = await _settled(conversation_id, 2)
    assert stored[0] == ("user", "Count for me", False)
    assert len(stored) == 2 and stored[1][0] == "assistant" and stored[1][2] is True
    assert stored[1][1].startswith("".join(heard)) and stored[1][1] != LONG

    openai_double.queue_text("Welcome back.")
    again = await open_socket(live_bot.id, key=secret, user_conversation_id="leaver")
    await again.send(type="chat", req_id="c2", text="I am back", resume_token=browser_secret)
    events = await again.until("status", stage="idle")
    assert not [e for e in events if e["type"] == "error"], events  # the turn lock was released
    assert events[0]["conversation_id"] == conversation_id
    assert [e["text"] for e in events if e["type"] == "done"] == ["Welcome back."]
    assert len(await rows(conversation_id)) == 4
    await again.close()


async def test_leaving_the_talk_socket_mid_reply_stores_the_partial_text_as_interrupted(
    talk, voice_bot, staff_user, openai_double
):
    openai_double.queue_text(LONG, token_delay_s=0.1)
    ws = await talk(voice_bot, staff_user)
    await ws.send_to(text_data=json.dumps({"type": "chat", "req_id": "t1", "text": "Count", "speak": False}))
    heard, conversation_id = [], None
    while len(heard) < 3:
        event = json.loads(await ws.receive_from(timeout=15))
        conversation_id = event.get("conversation_id", conversation_id)
        if event["type"] == "text_delta":
            heard.append(event["delta"])
    await ws.disconnect()

    stored = await _settled(conversation_id, 2)
    assert stored[0] == ("user", "Count", False)
    assert len(stored) == 2 and stored[1][2] is True and stored[1][1].startswith("".join(heard))

    openai_double.queue_text("Hello again.")
    again = await talk(voice_bot, staff_user)
    await again.send_to(
        text_data=json.dumps(
            {"type": "chat", "req_id": "t2", "text": "Hi", "speak": False, "conversation_id": conversation_id}
        )
    )
    events = []
    while not events or events[-1].get("stage") != "idle":
        events.append(json.loads(await again.receive_from(timeout=15)))
    assert [e["text"] for e in events if e["type"] == "done"] == ["Hello again."]
    assert await database_sync_to_async(Conversation.objects.count)() == 1
    await again.disconnect()
