"""Who may use the talk socket, and how it answers mistakes (error event, socket stays open)."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from bots.services import bot_create, bot_update
from config.asgi import application
from conversations.services import conversation_start
from tests.audio.test_talk_socket import _connect, _events_until, _send

pytestmark = [pytest.mark.voice, pytest.mark.django_db(transaction=True)]


async def _error(ws) -> dict:
    event = json.loads(await ws.receive_from(timeout=10))
    assert event["type"] == "error", event
    return event


async def test_it_refuses_an_anonymous_visitor_with_4401(voice_bot):
    ws = await _connect(voice_bot)
    assert (await _error(ws))["error"] == "Authentication required"
    assert (await ws.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4401}


async def test_it_refuses_a_logged_in_non_staff_user_with_4403(voice_bot, stranger_user):
    ws = await _connect(voice_bot, stranger_user)
    assert (await _error(ws))["error"] == "Staff access required"
    assert (await ws.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4403}


async def test_it_refuses_a_cross_site_origin(voice_bot, staff_user):
    from asgiref.sync import sync_to_async

    from tests.audio.test_talk_socket import _session_cookie

    cookie = await sync_to_async(_session_cookie)(staff_user)
    ws = WebsocketCommunicator(
        application,
        f"/ws/bots/{voice_bot.pk}/talk",
        headers=[(b"origin", b"https://evil.example"), (b"cookie", f"sessionid={cookie}".encode())],
    )
    connected, _ = await ws.connect()
    assert not connected


async def test_it_answers_mistakes_with_errors_and_stays_open(voice_bot, staff_user):
    ws = await _connect(voice_bot, staff_user)
    await ws.send_to(text_data="{not json")
    assert (await _error(ws))["error"] == "Invalid JSON"
    await ws.send_to(text_data="[1, 2]")
    assert "expected a JSON object" in (await _error(ws))["error"]
    await _send(ws, type="chat", text="hi")
    assert (await _error(ws))["error"] == "Missing req_id"
    await _send(ws, type="dance", req_id="x")
    assert (await _error(ws)) == {
        "type": "error",
        "error": "Unknown message type: dance",
        "code": "bad_request",
        "req_id": "x",
    }
    await _send(ws, type="chat", req_id="x", text=42)
    assert (await _error(ws))["error"] == "text must be a string"
    await _send(ws, type="start", req_id="x", speak="yes")
    assert (await _error(ws))["error"] == "speak must be true or false"
    await _send(ws, type="start", req_id="x", sample_rate=12345)
    assert "sample_rate must be one of" in (await _error(ws))["error"]
    await _send(ws, type="stop", req_id="nothing")
    assert (await _error(ws))["error"] == "Unknown req_id"
    await _send(ws, type="cancel", req_id="nothing")
    assert (await _error(ws))["error"] == "No request in progress"
    await _send(ws, type="chat", req_id="e", text="   ")
    assert (await _error(ws))["error"] == "Empty text"
    assert json.loads(await ws.receive_from())["stage"] == "idle"
    await _send(ws, type="chat", req_id="c", text="hi", conversation_id="not-a-uuid")
    assert (await _error(ws))["error"] == "Invalid conversation_id"
    await ws.send_to(bytes_data=b"\x00\x01\x02")  # audio outside a recording is ignored
    assert await ws.receive_nothing(timeout=0.3)
    await ws.disconnect()


async def test_it_refuses_a_conversation_of_another_bot(voice_bot, staff_user):
    other = await sync_to_async(bot_create)(name="Other", system_prompt="x")
    foreign = await sync_to_async(conversation_start)(bot=other)
    ws = await _connect(voice_bot, staff_user)
    await _send(ws, type="start", req_id="s", conversation_id=str(foreign.pk))
    assert (await _error(ws))["error"] == "Conversation does not belong to bot"
    await ws.disconnect()


async def test_a_second_recording_is_refused_and_cancel_drops_the_open_one(voice_bot, staff_user):
    ws = await _connect(voice_bot, staff_user)
    await _send(ws, type="start", req_id="a")
    await _events_until(ws, "recording")
    await _send(ws, type="start", req_id="b")
    assert (await _error(ws)) == {"type": "error", "error": "A recording is already open", "req_id": "b"}
    await _send(ws, type="cancel", req_id="a")
    events = await _events_until(ws)
    assert events[0] == {"type": "done", "text": "", "metrics": {}, "interrupted": True, "req_id": "a"}
    await ws.disconnect()


async def test_it_caps_an_utterance_at_the_byte_limit(voice_bot, staff_user, settings):
    settings.VOICEBOT_MAX_UTTERANCE_BYTES = 32000
    ws = await _connect(voice_bot, staff_user)
    await _send(ws, type="start", req_id="big")
    await _events_until(ws, "recording")
    for _ in range(3):
        await ws.send_to(bytes_data=b"\x00\x00" * 8000)  # 16000 bytes each
    error = await _error(ws)
    assert error["code"] == "utterance_too_long" and error["req_id"] == "big"
    assert await ws.receive_nothing(timeout=0.3)  # reported once
    await _send(ws, type="stop", req_id="big")
    events = await _events_until(ws)  # silence: an empty transcript ends the turn cleanly
    assert [e for e in events if e["type"] == "asr"][0]["text"] == ""
    assert [e for e in events if e["type"] == "done"][0]["text"] == ""
    await ws.disconnect()


async def test_a_model_that_cannot_load_is_reported_and_the_socket_stays_usable(voice_bot, staff_user, question_pcm16):
    await sync_to_async(bot_update)(bot=voice_bot, asr_engine="whisper", whisper_model="no-such-model")
    ws = await _connect(voice_bot, staff_user)
    await _send(ws, type="start", req_id="m")
    await _events_until(ws, "recording")
    await ws.send_to(bytes_data=question_pcm16[:32000])
    await _send(ws, type="stop", req_id="m")
    events = await _events_until(ws)
    error = next(e for e in events if e["type"] == "error")
    assert "Unknown Whisper model 'no-such-model'" in error["error"] and error["req_id"] == "m"
    assert [e["type"] for e in events][-2:] == ["done", "status"]
    await _send(ws, type="start", req_id="again")
    assert (await _events_until(ws, "recording"))[-1]["stage"] == "recording"
    await ws.disconnect()
