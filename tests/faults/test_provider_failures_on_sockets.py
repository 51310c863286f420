"""The model provider failing (429, 500, a stream that stalls mid-reply, a stream cut mid-reply) while a
user is chatting over the public widget socket and the Studio talk socket, through the real openai SDK
against the loopback OpenAI double: the user gets a readable error, the socket stays open and the next
turn works, and the conversation keeps exactly the messages it should (no empty assistant rows)."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async

from conversations.models import Message

pytestmark = pytest.mark.django_db(transaction=True)

FAILURES = {
    "rate_limited": ({"status": 429}, "rate-limiting"),
    "server_error": ({"status": 500}, "had an error (500)"),
}


def _rows(conversation_id: str) -> list[tuple]:
    return list(
        Message.objects.filter(conversation_id=conversation_id)
        .order_by("created_at")
        .values_list("role", "content", "interrupted")
    )


rows = database_sync_to_async(_rows)


def _queue_failure(double, kind: str, settings) -> None:
    if kind in FAILURES:
        double.queue_error(FAILURES[kind][0]["status"])
    elif kind == "stalled_mid_stream":
        settings.VOICEBOT_OPENAI_TIMEOUT_S = 1.0
        double.queue_text("We open at nine", token_delay_s=3.0)  # first word, then silence past the timeout
    elif kind == "cut_mid_stream":
        double.queue_text("We open at nine tomorrow", fail_after_tokens=2)


@pytest.mark.parametrize("kind", ["rate_limited", "server_error", "stalled_mid_stream", "cut_mid_stream"])
async def test_the_public_socket_reports_a_provider_failure_and_the_next_turn_works(
    kind, open_socket, live_bot, make_key, openai_double, settings
):
    _, secret, _ = await make_key()
    socket = await open_socket(live_bot.id, key=secret, user_conversation_id=f"fault-{kind}")
    _queue_failure(openai_double, kind, settings)
    await socket.send(type="chat", req_id="c1", text="When do you open?")
    events = await socket.until("status", stage="idle", timeout=15)

    errors = [e for e in events if e["type"] == "error"]
    assert len(errors) == 1 and errors[0]["req_id"] == "c1", events
    assert errors[0]["error"] and "Traceback" not in errors[0]["error"]
    if kind in FAILURES:
        assert FAILURES[kind][1] in errors[0]["error"]
    conversation_id = events[0]["conversation_id"]

    openai_double.queue_text("We open at nine.")
    await socket.send(type="chat", req_id="c2", text="Hello again?")
    again = await socket.until("status", stage="idle", timeout=15)
    assert [e["text"] for e in again if e["type"] == "done"] == ["We open at nine."]
    assert not [e for e in again if e["type"] == "error"]

    stored = await rows(conversation_id)
    assert stored[0] == ("user", "When do you open?", False)
    assert stored[-2:] == [("user", "Hello again?", False), ("assistant", "We open at nine.", False)]
    failed_turn = stored[1:-2]
    assert all(role == "assistant" and content.strip() for role, content, _ in failed_turn), stored
    await socket.close()


@pytest.mark.parametrize("kind", ["rate_limited", "server_error", "stalled_mid_stream"])
async def test_the_studio_talk_socket_reports_a_provider_failure_and_the_next_turn_works(
    kind, talk, voice_bot, staff_user, openai_double, settings
):
    ws = await talk(voice_bot, staff_user)
    _queue_failure(openai_double, kind, settings)
    await ws.send_to(
        text_data=json.dumps({"type": "chat", "req_id": "t1", "text": "When do you open?", "speak": False})
    )
    events = await _until_idle(ws)
    errors = [e for e in events if e["type"] == "error"]
    assert len(errors) == 1 and errors[0]["req_id"] == "t1", events
    if kind in FAILURES:
        assert FAILURES[kind][1] in errors[0]["error"]
    conversation_id = next(e["conversation_id"] for e in events if e.get("conversation_id"))

    openai_double.queue_text("At nine.")
    await ws.send_to(
        text_data=json.dumps(
            {"type": "chat", "req_id": "t2", "text": "And now?", "speak": False, "conversation_id": conversation_id}
        )
    )
    again = await _until_idle(ws)
    assert [e["text"] for e in again if e["type"] == "done"] == ["At nine."]
    stored = await rows(conversation_id)
    assert stored[0] == ("user", "When do you open?", False)
    assert stored[-1] == ("assistant", "At nine.", False)
    await ws.disconnect()


async def _until_idle(ws, timeout: float = 20) -> list[dict]:
    events = []
    for _ in range(500):
        event = json.loads(await ws.receive_from(timeout=timeout))
        events.append(event)
        if event["type"] == "status" and event.get("stage") == "idle":
            return events
    raise AssertionError(events)
