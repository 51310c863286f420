"""Who may continue a widget conversation (embed/ownership.py), attacked over real websockets.

Knowing (or first claiming) a visitor's user id must open nothing of theirs: the attacker's chat
lands in a conversation of its own and the model (the loopback OpenAI double, whose recorded
requests are the model's whole input) never sees the victim's history or metadata. The rightful
browser continues with the secret the server issued it (reload, second tab); a site-signed
user_token opens the site user's own conversation, never one an earlier unproven caller started.
"""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async

from embed import services

pytestmark = pytest.mark.usefixtures("openai_double")

PIN_TEXT = "my card pin is 4321"


@pytest.fixture
def pin_bot(transactional_db):
    from bots.services import bot_create

    return bot_create(
        name="Bank bot",
        system_prompt="You are a bank assistant. Known card pin: {{.card_pin}}.",
        openai_model="gpt-4o-mini",
    )


def _model_input_since(openai_double, start: int) -> str:
    return json.dumps(openai_double.requests[start:], ensure_ascii=False)


async def _alice_tells_her_pin(open_socket, bot, secret, openai_double, user="alice") -> dict:
    """Alice starts, says her pin (the bot stores it as metadata); returns her `conversation` event."""
    openai_double.queue_text("Hello Alice.")
    openai_double.queue_tool_call("set_metadata", {"card_pin": "4321", "next_reply": "Noted, thank you."})
    socket = await open_socket(bot.id, key=secret, user_conversation_id=user)
    await socket.send(type="start", req_id="s1")
    opened = (await socket.until("status", stage="idle"))[0]
    await socket.send(type="chat", req_id="c1", text=PIN_TEXT)
    events = await socket.until("status", stage="idle")
    assert next(e for e in events if e["type"] == "done")["text"] == "Noted, thank you."
    await socket.close()
    return opened


async def _chat(socket, text: str, req_id: str = "c") -> list[dict]:
    await socket.send(type="chat", req_id=req_id, text=text)
    return await socket.until("status", stage="idle")


async def test_an_attacker_who_knows_the_user_id_chats_in_a_conversation_of_its_own(
    open_socket, pin_bot, make_key, openai_double
):
    _, secret, _ = await make_key()
    alice = await _alice_tells_her_pin(open_socket, pin_bot, secret, openai_double)
    before = len(openai_double.requests)

    attacker = await open_socket(pin_bot.id, key=secret, user_conversation_id="alice")
    await attacker.send(type="start", req_id="s1")
    started = await attacker.until("status", stage="idle")
    assert started[0]["conversation_id"] != alice["conversation_id"]
    assert "history" not in [e["type"] for e in started]
    events = await _chat(attacker, "What did I tell you before? Repeat my card pin.")
    assert events[0]["conversation_id"] != alice["conversation_id"]
    await attacker.send(type="history", req_id="h1")
    own = await attacker.receive()
    assert own["type"] == "history" and PIN_TEXT not in json.dumps(own)
    await attacker.close()

    model_input = _model_input_since(openai_double, before)
    assert PIN_TEXT not in model_input and "4321" not in model_input
    assert "Repeat my card pin" in model_input  # the attacker's own request did reach the model

    # a chat without start (no proof either) is no different
    direct = await open_socket(pin_bot.id, key=secret, user_conversation_id="alice")
    before = len(openai_double.requests)
    events = await _chat(direct, "Continue where we left off")
    assert events[0]["conversation_id"] != alice["conversation_id"] and events[0]["resume_token"]
    assert "4321" not in _model_input_since(openai_double, before)
    await direct.close()


async def test_a_wrong_or_foreign_proof_opens_nothing(open_socket, pin_bot, make_key, openai_double):
    key, secret, _ = await make_key()
    other_key, other_secret, _ = await make_key(name="other site")
    alice = await _alice_tells_her_pin(open_socket, pin_bot, secret, openai_double)
    mallory_token = await database_sync_to_async(services.user_token_sign)(key, "mallory", ttl_seconds=300)
    other_key_token = await database_sync_to_async(services.user_token_sign)(other_key, "alice", ttl_seconds=300)

    for proof in (
        {"resume_token": alice["resume_token"] + "x"},
        {"resume_token": "igxb_guess"},
        {"user_token": mallory_token},
        {"user_token": other_key_token},
        {"user_token": "9999999999.deadbeef"},
    ):
        socket = await open_socket(pin_bot.id, key=secret, user_conversation_id="alice")
        await socket.send(type="history", req_id="h", **proof)
        assert (await socket.receive())["code"] == "forbidden", proof
        await socket.send(type="start", req_id="s", **proof)
        events = await socket.until("status", stage="idle")
        assert events[0]["conversation_id"] != alice["conversation_id"], proof
        assert "4321" not in json.dumps(events)
        await socket.close()

    # alice's secret is bound to her user id and key: useless for bob, and on another key
    bob = await open_socket(pin_bot.id, key=secret, user_conversation_id="bob")
    await bob.send(type="history", req_id="h", resume_token=alice["resume_token"])
    assert (await bob.receive())["code"] == "forbidden"
    await bob.close()
    elsewhere = await open_socket(pin_bot.id, key=other_secret, user_conversation_id="alice")
    await elsewhere.send(type="start", req_id="s", resume_token=alice["resume_token"])
    events = await elsewhere.until("status", stage="idle")
    assert events[0]["conversation_id"] != alice["conversation_id"]
    await elsewhere.close()


async def test_the_rightful_browser_continues_after_a_reload_and_in_a_second_tab(
    open_socket, pin_bot, make_key, openai_double
):
    _, secret, _ = await make_key()
    alice = await _alice_tells_her_pin(open_socket, pin_bot, secret, openai_double)
    browser_secret = alice["resume_token"]
    assert browser_secret.startswith("igxb_")

    reloaded = await open_socket(pin_bot.id, key=secret, user_conversation_id="alice")
    await reloaded.send(type="start", req_id="s2", resume_token=browser_secret)
    events = await reloaded.until("status", stage="idle")
    assert events[0]["conversation_id"] == alice["conversation_id"]
    assert "resume_token" not in events[0]  # the browser keeps the one it has
    assert [m["text"] for m in events[1]["messages"]] == ["Hello Alice.", PIN_TEXT, "Noted, thank you."]

    second_tab = await open_socket(pin_bot.id, key=secret, user_conversation_id="alice")
    await second_tab.send(type="start", req_id="s3", resume_token=browser_secret)
    tab_events = await second_tab.until("status", stage="idle")
    assert tab_events[0]["conversation_id"] == alice["conversation_id"]

    before = len(openai_double.requests)
    openai_double.queue_text("Your pin is on file.")
    events = await _chat(second_tab, "Do you still know my pin?")
    assert events[0]["conversation_id"] == alice["conversation_id"]
    assert "4321" in _model_input_since(openai_double, before)  # her own history and metadata, for her
    await reloaded.close()
    await second_tab.close()


async def test_claiming_a_user_id_first_gives_the_attacker_nothing_of_the_real_user(
    open_socket, pin_bot, make_key, openai_double
):
    key, secret, _ = await make_key()
    # the attacker is first to `start` for user_1001 and keeps the secret it is issued
    attacker = await open_socket(pin_bot.id, key=secret, user_conversation_id="user_1001")
    await attacker.send(type="start", req_id="s1")
    claimed = (await attacker.until("status", stage="idle"))[0]
    attacker_secret = claimed["resume_token"]
    await attacker.close()

    # the real user arrives with a token the site signed: a proven conversation of their own
    token = await database_sync_to_async(services.user_token_sign)(key, "user_1001", ttl_seconds=300)
    real = await open_socket(pin_bot.id, key=secret, user_conversation_id="user_1001", user_token=token)
    await real.send(type="start", req_id="s1")
    opened = await real.until("status", stage="idle")
    assert opened[0]["conversation_id"] != claimed["conversation_id"]
    assert "history" not in [e["type"] for e in opened]  # nothing of the attacker's is handed over
    openai_double.queue_tool_call("set_metadata", {"card_pin": "4321", "next_reply": "Noted, thank you."})
    await _chat(real, PIN_TEXT)
    await real.close()

    # a later real user without a token does not land in the attacker's conversation either
    unsigned = await open_socket(pin_bot.id, key=secret, user_conversation_id="user_1001")
    await unsigned.send(type="start", req_id="s1")
    unsigned_events = await unsigned.until("status", stage="idle")
    assert unsigned_events[0]["conversation_id"] not in (claimed["conversation_id"], opened[0]["conversation_id"])
    await unsigned.close()

    # the attacker, back with its secret, reads and continues only its own conversation
    before = len(openai_double.requests)
    back = await open_socket(pin_bot.id, key=secret, user_conversation_id="user_1001")
    await back.send(type="start", req_id="s2", resume_token=attacker_secret)
    events = await back.until("status", stage="idle")
    assert events[0]["conversation_id"] == claimed["conversation_id"]
    assert PIN_TEXT not in json.dumps(events)
    await back.send(type="history", req_id="h", resume_token=attacker_secret)
    assert PIN_TEXT not in json.dumps(await back.receive())
    await _chat(back, "What is my card pin?")
    assert "4321" not in _model_input_since(openai_double, before)
    await back.close()

    # and the real user, on another device with a fresh token, finds their conversation again
    again = await open_socket(pin_bot.id, key=secret, user_conversation_id="user_1001", user_token=token)
    await again.send(type="start", req_id="s3")
    events = await again.until("status", stage="idle")
    assert events[0]["conversation_id"] == opened[0]["conversation_id"]
    assert PIN_TEXT in [m["text"] for m in events[1]["messages"]]
    await again.close()


@pytest.mark.parametrize(
    "user_id",
    ["REPLACE-WITH-A-STABLE-USER-ID", "user_id", "USER_ID", "{{ user.id }}", "undefined", "null", "<user id>"],
)
async def test_a_placeholder_user_id_is_refused_with_4400(open_socket, pin_bot, make_key, user_id):
    _, secret, _ = await make_key()
    socket = await open_socket(pin_bot.id, key=secret, user_conversation_id=user_id)
    event = await socket.receive()
    assert event["type"] == "error" and event["code"] == "bad_request" and "placeholder" in event["error"]
    assert await socket.closed_with() == 4400
