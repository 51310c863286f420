"""History on reconnect: only for a caller that proves who it is (a site-signed user_token or the
browser secret our server issued as `resume_token` to the browser that started the conversation),
never for a guessed id. The attacks themselves are in test_conversation_ownership.py."""

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
    assert events[0]["conversation_id"] == opened["conversation_id"]
    assert [(m["role"], m["text"]) for m in events[1]["messages"]] == [
        ("assistant", "Hello Alice."),
        ("user", "What is my balance?"),
        ("assistant", "Your balance is 42 euros."),
    ]
    # the `history` message type answers the same, with the secret or for the socket's own conversation
    await socket.send(type="history", req_id="h1", resume_token=opened["resume_token"])
    assert len((await socket.receive())["messages"]) == 3
    await socket.send(type="history", req_id="h2")
    assert len((await socket.receive())["messages"]) == 3
    await socket.close()


async def test_a_site_signed_user_token_replays_the_site_users_history(open_socket, live_bot, make_key, openai_double):
    key, secret, _ = await make_key()
    token = await database_sync_to_async(services.user_token_sign)(key, "alice", ttl_seconds=300)
    openai_double.queue_text("Hello Alice.")
    openai_double.queue_text("Your balance is 42 euros.")
    first = await open_socket(live_bot.id, key=secret, user_conversation_id="alice", user_token=token)
    await first.send(type="start", req_id="s1")
    opened = (await first.until("status", stage="idle"))[0]
    assert "resume_token" not in opened  # the site's token is the proof; no browser secret is issued
    await first.send(type="chat", req_id="c1", text="What is my balance?")
    await first.until("status", stage="idle")
    await first.close()

    # as the `history` message type, with the token in the message
    socket = await open_socket(live_bot.id, key=secret, user_conversation_id="alice")
    await socket.send(type="history", req_id="h1", user_token=token)
    event = await socket.receive()
    assert event["type"] == "history" and event["req_id"] == "h1"
    assert [m["text"] for m in event["messages"]][-1] == "Your balance is 42 euros."
    await socket.close()

    # or in the query string, then picked up by start (another device of the same site user)
    socket = await open_socket(live_bot.id, key=secret, user_conversation_id="alice", user_token=token)
    await socket.send(type="start", req_id="s1")
    events = await socket.until("status", stage="idle")
    assert events[0]["conversation_id"] == opened["conversation_id"]
    assert events[1]["type"] == "history" and len(events[1]["messages"]) == 3
    await socket.close()


async def test_history_without_a_proof_or_a_conversation_is_forbidden(open_socket, live_bot, make_key, openai_double):
    _, secret, _ = await make_key()
    await _conversation_with_one_exchange(open_socket, live_bot, secret, openai_double)
    socket = await open_socket(live_bot.id, key=secret, user_conversation_id="alice")
    await socket.send(type="history", req_id="h")
    event = await socket.receive()
    assert event == {
        "type": "error",
        "error": "History needs a valid user_token or resume_token",
        "code": "forbidden",
        "req_id": "h",
    }
    await socket.close()


async def test_a_browser_secret_expires_with_an_idle_conversation(
    open_socket, live_bot, make_key, openai_double, settings
):
    _, secret, _ = await make_key()
    opened = await _conversation_with_one_exchange(open_socket, live_bot, secret, openai_double)
    settings.VOICEBOT_EMBED_RESUME_TOKEN_MAX_AGE_DAYS = 0  # every conversation is now idle for too long
    socket = await open_socket(live_bot.id, key=secret, user_conversation_id="alice")
    await socket.send(type="history", req_id="h", resume_token=opened["resume_token"])
    assert (await socket.receive())["code"] == "forbidden"
    await socket.close()
