"""Limits and bad input on the public socket: every refusal is an error event and the socket lives on."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async

from conversations.models import Message
from embed import services

pytestmark = pytest.mark.usefixtures("openai_double")


async def _assert_still_answers(socket) -> None:
    await socket.send(type="nope", req_id="alive")
    assert (await socket.receive())["error"] == "Unknown message type: nope"


async def test_a_binary_frame_is_refused_without_killing_the_socket(open_socket, live_bot, make_key):
    _, secret, _ = await make_key()
    socket = await open_socket(live_bot.id, key=secret, user_conversation_id="u1")
    await socket.send_raw(data=b"\x00\x01\x02")
    event = await socket.receive()
    assert event["type"] == "error" and "Binary frames" in event["error"]
    await _assert_still_answers(socket)
    await socket.close()


async def test_an_oversized_message_is_refused(open_socket, live_bot, make_key, settings):
    settings.VOICEBOT_EMBED_MAX_MESSAGE_CHARS = 50
    settings.VOICEBOT_EMBED_MAX_FRAME_BYTES = 1000
    _, secret, _ = await make_key()
    socket = await open_socket(live_bot.id, key=secret, user_conversation_id="u1")
    await socket.send(type="chat", req_id="c1", text="x" * 51)
    event = await socket.receive()
    assert event["code"] == "too_large" and "max 50 characters" in event["error"] and event["req_id"] == "c1"
    await socket.send_raw(text=json.dumps({"type": "chat", "req_id": "c2", "text": "y" * 2000}))
    event = await socket.receive()
    assert event["code"] == "too_large" and "1000 bytes" in event["error"]
    await _assert_still_answers(socket)
    await socket.close()


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        ("not json", "Invalid JSON"),
        ("[1, 2]", "Invalid message: expected a JSON object"),
        ('{"type": "chat", "text": "hi"}', "Missing req_id"),
        ('{"type": "chat", "req_id": {"a": 1}, "text": "hi"}', "Invalid req_id"),
        ('{"type": "chat", "req_id": "r", "text": "   "}', "Empty text"),
        ('{"type": "chat", "req_id": "r", "text": 5}', "Empty text"),
    ],
)
async def test_malformed_messages_get_an_error_event(open_socket, live_bot, make_key, frame, error):
    _, secret, _ = await make_key()
    socket = await open_socket(live_bot.id, key=secret, user_conversation_id="u1")
    await socket.send_raw(text=frame)
    assert (await socket.receive())["error"] == error
    await _assert_still_answers(socket)
    await socket.close()


async def test_messages_per_minute_per_conversation_are_limited(open_socket, live_bot, make_key, settings):
    settings.VOICEBOT_EMBED_RATE_PER_CONVERSATION_PER_MINUTE = 3
    _, secret, _ = await make_key()
    socket = await open_socket(live_bot.id, key=secret, user_conversation_id="u-rate")
    for i in range(3):
        await socket.send(type="history", req_id=f"h{i}")
        assert (await socket.receive())["code"] == "forbidden"  # counted, then refused for lack of proof
    await socket.send(type="chat", req_id="c", text="hello")
    event = await socket.receive()
    assert event["code"] == "rate_limited" and "per minute for this conversation" in event["error"]
    # another conversation on the same key is not affected
    other = await open_socket(live_bot.id, key=secret, user_conversation_id="u-other")
    await other.send(type="history", req_id="h")
    assert (await other.receive())["code"] == "forbidden"
    await socket.close()
    await other.close()


async def test_messages_per_minute_per_key_are_limited_across_sockets(open_socket, live_bot, make_key, settings):
    settings.VOICEBOT_EMBED_RATE_PER_KEY_PER_MINUTE = 2
    _, secret, _ = await make_key()
    first = await open_socket(live_bot.id, key=secret, user_conversation_id="a")
    second = await open_socket(live_bot.id, key=secret, user_conversation_id="b")
    await first.send(type="history", req_id="1")
    await first.receive()
    await second.send(type="history", req_id="2")
    await second.receive()
    await second.send(type="history", req_id="3")
    event = await second.receive()
    assert event["code"] == "rate_limited" and "for this key" in event["error"]
    await first.close()
    await second.close()


async def test_messages_sent_while_a_turn_runs_wait_in_line_and_are_answered_in_order(
    open_socket, live_bot, make_key, openai_double
):
    """The reference processed frames in order; a second message is queued, never dropped as "busy" -
    also from a second tab of the same browser (another socket, possibly another server process)."""
    _, secret, _ = await make_key()
    openai_double.queue_text("Hi!")
    openai_double.queue_text("A slow answer.", ttft_s=1.0)
    openai_double.queue_text("The second answer.")
    openai_double.queue_text("The twin's answer.")
    socket = await open_socket(live_bot.id, key=secret, user_conversation_id="u1")
    await socket.send(type="start", req_id="s1")
    browser_secret = (await socket.until("status", stage="idle"))[0]["resume_token"]
    await socket.send(type="chat", req_id="c1", text="first")
    conversation_id = (await socket.until("conversation"))[-1]["conversation_id"]
    await socket.send(type="chat", req_id="c2", text="second")
    twin = await open_socket(live_bot.id, key=secret, user_conversation_id="u1")
    await twin.send(type="chat", req_id="t1", text="third", resume_token=browser_secret)

    first = await socket.until("status", stage="idle")
    second = await socket.until("status", stage="idle")
    twin_events = await twin.until("status", stage="idle")
    assert not [e for e in first + second + twin_events if e["type"] == "error"]
    assert [e["text"] for e in first if e["type"] == "done"] == ["A slow answer."]
    assert [(e["req_id"], e["text"]) for e in second if e["type"] == "done"] == [("c2", "The second answer.")]
    assert [e["text"] for e in twin_events if e["type"] == "done"] == ["The twin's answer."]
    users = await database_sync_to_async(
        lambda: list(
            Message.objects.filter(conversation_id=conversation_id, role="user")
            .order_by("created_at")
            .values_list("content", flat=True)
        )
    )()
    assert users == ["first", "second", "third"]
    await socket.close()
    await twin.close()


async def test_a_message_over_the_line_bound_gets_a_clear_error(
    open_socket, live_bot, make_key, openai_double, settings
):
    settings.VOICEBOT_TURN_QUEUE_MAX = 3
    _, secret, _ = await make_key()
    openai_double.queue_text("Hi!")
    openai_double.queue_text("A slow answer.", ttft_s=1.0)
    socket = await open_socket(live_bot.id, key=secret, user_conversation_id="u1")
    await socket.send(type="start", req_id="s1")
    await socket.until("status", stage="idle")
    await socket.send(type="chat", req_id="c0", text="first")
    await socket.until("status", stage="llm")
    for i in range(1, 5):
        await socket.send(type="chat", req_id=f"c{i}", text=f"queued {i}")
    events = []
    while not any(e["type"] == "error" for e in events):
        events.append(await socket.receive())
    error = next(e for e in events if e["type"] == "error")
    assert error["req_id"] == "c4" and error["code"] == "queue_full"
    assert "Too many messages are waiting" in error["error"]
    await socket.close()


async def test_revoking_the_key_stops_an_open_socket(open_socket, live_bot, make_key):
    key, secret, _ = await make_key()
    socket = await open_socket(live_bot.id, key=secret, user_conversation_id="u1")
    await _assert_still_answers(socket)
    await database_sync_to_async(services.client_key_revoke)(key)
    await socket.send(type="chat", req_id="c1", text="hello")
    event = await socket.receive()
    assert event["type"] == "error" and event["code"] == "invalid_key"
    assert await socket.closed_with() == 4401


async def test_revoking_from_the_admin_stops_an_open_socket_at_its_next_message(
    open_socket, live_bot, make_key, admin_user
):
    """The admin's bulk action goes through the revoke service, so the per-socket key cache hears it."""
    from django.test import Client

    key, secret, _ = await make_key()
    socket = await open_socket(live_bot.id, key=secret, user_conversation_id="u1")
    await _assert_still_answers(socket)

    def revoke_in_admin() -> int:
        client = Client()
        client.force_login(admin_user)
        data = {"action": "revoke_selected", "_selected_action": [str(key.pk)]}
        return client.post("/admin/embed/clientkey/", data).status_code

    assert await database_sync_to_async(revoke_in_admin)() == 302
    await socket.send(type="chat", req_id="c1", text="hello")
    event = await socket.receive()
    assert event["type"] == "error" and event["code"] == "invalid_key"
    assert await socket.closed_with() == 4401
