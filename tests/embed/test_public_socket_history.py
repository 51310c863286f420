"""History on reconnect: only for a caller that proves who it is (a site-signed user_token or the
resume_token our server gave the browser that started the conversation), never for a guessed id."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from embed import services

pytestmark = pytest.mark.usefixtures("openai_double")


async def _conversation_with_one_exchange(open_socket, bot, secret, openai_double, user="alice"):
    openai_double.queue_text("Hello Alice.")
    openai_double.queue_text("Your balance is 42 euros.")
    socket = await open_socket(bot.id, key=secret, user_conversation_id=user)
    await socket.send(type="start", req_id="s1")
    opened = (await socket.until("status", stage="idle"))[0]
    await socket.send(type="chat", req_id="c1", text="What is my balance?")
    await socket.until("status", stage="idle")
    await socket.close()
    return opened


async def test_the_resume_token_from_start_replays_the_history(open_socket, live_bot, make_key, openai_double):
    _, secret, _ = await make_key()
    opened = await _conversation_with_one_exchange(open_socket, live_bot, secret, openai_double)

    socket = await open_socket(live_bot.id, key=secret, user_conversation_id="alice")
    await socket.send(type="start", req_id="s2", resume_token=opened["resume_token"])
    events = await socket.until("status", stage="idle")
    assert [e["type"] for e in events][:2] == ["conversation", "history"]
    assert [(m["role"], m["text"]) for m in events[1]["messages"]] == [
        ("assistant", "Hello Alice."),
        ("user", "What is my balance?"),
        ("assistant", "Your balance is 42 euros."),
    ]
    assert events[0]["resume_token"]  # refreshed
    await socket.close()


async def test_a_site_signed_user_token_replays_the_history(open_socket, live_bot, make_key, openai_double):
    key, secret, _ = await make_key()
    await _conversation_with_one_exchange(open_socket, live_bot, secret, openai_double)
    token = await database_sync_to_async(services.user_token_sign)(key, "alice", ttl_seconds=300)

    # as the `history` message type
    socket = await open_socket(live_bot.id, key=secret, user_conversation_id="alice")
    await socket.send(type="history", req_id="h1", user_token=token)
    event = await socket.receive()
    assert event["type"] == "history" and event["req_id"] == "h1"
    assert [m["text"] for m in event["messages"]][-1] == "Your balance is 42 euros."
    await socket.close()

    # or in the query string, then picked up by start
    socket = await open_socket(live_bot.id, key=secret, user_conversation_id="alice", user_token=token)
    await socket.send(type="start", req_id="s1")
    events = await socket.until("status", stage="idle")
    assert events[1]["type"] == "history" and len(events[1]["messages"]) == 3
    await socket.close()


async def test_knowing_the_user_id_is_not_enough(open_socket, live_bot, make_key, openai_double):
    key, secret, _ = await make_key()
    other_key, other_secret, _ = await make_key(name="other site")
    opened = await _conversation_with_one_exchange(open_socket, live_bot, secret, openai_double)
    wrong_user_token = await database_sync_to_async(services.user_token_sign)(key, "mallory", ttl_seconds=300)
    other_key_token = await database_sync_to_async(services.user_token_sign)(other_key, "alice", ttl_seconds=300)

    socket = await open_socket(live_bot.id, key=secret, user_conversation_id="alice")
    await socket.send(type="start", req_id="s1")
    events = await socket.until("status", stage="idle")
    assert "history" not in [e["type"] for e in events]
    assert "resume_token" not in events[0]
    for attempt in (
        {},
        {"user_token": wrong_user_token},
        {"user_token": other_key_token},
        {"user_token": "9999999999.deadbeef"},
        {"resume_token": opened["resume_token"] + "x"},
    ):
        await socket.send(type="history", req_id="h", **attempt)
        event = await socket.receive()
        assert event["type"] == "error" and event["code"] == "forbidden", attempt
    await socket.close()

    # a resume token for alice does not open bob's conversation
    bob = await open_socket(live_bot.id, key=secret, user_conversation_id="bob")
    await bob.send(type="history", req_id="h", resume_token=opened["resume_token"])
    assert (await bob.receive())["code"] == "forbidden"
    await bob.close()
