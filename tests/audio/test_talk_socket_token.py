"""Script clients on the talk socket: a DRF token in `Authorization: Token …` or a `token.<key>`
subprotocol, no Origin. Browsers keep the exact Origin rule, token or not; a bad token is refused."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from config.asgi import application
from tests.audio.test_talk_socket import _events_until, _send, _session_cookie
from tests.user_data import api_token

pytestmark = [pytest.mark.voice, pytest.mark.django_db(transaction=True)]


async def _token(user) -> str:
    return await sync_to_async(api_token)(user)


def _socket(bot, headers=(), subprotocols=None) -> WebsocketCommunicator:
    return WebsocketCommunicator(
        application, f"/ws/bots/{bot.pk}/talk", headers=list(headers), subprotocols=subprotocols
    )


async def _chat(ws, openai_double, reply: str) -> list[dict]:
    openai_double.queue_text(reply)
    await _send(ws, type="chat", req_id="r1", text="Hello?", speak=False)
    return await _events_until(ws)


async def test_a_script_with_a_token_header_and_no_origin_talks(voice_bot, staff_user, openai_double):
    key = await _token(staff_user)
    ws = _socket(voice_bot, headers=[(b"authorization", f"Token {key}".encode())])
    connected, _ = await ws.connect()
    assert connected
    events = await _chat(ws, openai_double, "Hi from the shop.")
    assert next(e for e in events if e["type"] == "done")["text"] == "Hi from the shop."
    await ws.disconnect()


async def test_a_token_subprotocol_works_and_the_server_selects_voicebot(voice_bot, staff_user, openai_double):
    key = await _token(staff_user)
    ws = _socket(voice_bot, subprotocols=["voicebot", f"token.{key}"])
    connected, subprotocol = await ws.connect()
    assert connected and subprotocol == "voicebot"  # the token is never echoed back
    events = await _chat(ws, openai_double, "Subprotocol works.")
    assert next(e for e in events if e["type"] == "done")["text"] == "Subprotocol works."
    await ws.disconnect()


@pytest.mark.parametrize(
    "headers, subprotocols",
    [
        ([(b"authorization", b"Token 0123456789abcdef0123456789abcdef01234567")], None),
        ([], ["voicebot", "token.not-a-token"]),
    ],
)
async def test_a_bad_token_is_refused_at_the_handshake(voice_bot, staff_user, headers, subprotocols):
    cookie = await sync_to_async(_session_cookie)(staff_user)  # a valid session does not rescue a bad token
    ws = _socket(
        voice_bot,
        headers=[*headers, (b"origin", b"http://testserver"), (b"cookie", f"sessionid={cookie}".encode())],
        subprotocols=subprotocols,
    )
    connected, _ = await ws.connect()
    assert not connected


async def test_a_token_does_not_excuse_a_foreign_origin(voice_bot, staff_user, openai_double):
    key = await _token(staff_user)
    foreign = _socket(
        voice_bot, headers=[(b"authorization", f"Token {key}".encode()), (b"origin", b"https://evil.example")]
    )
    assert not (await foreign.connect())[0]
    same = _socket(voice_bot, headers=[(b"authorization", f"Token {key}".encode()), (b"origin", b"http://testserver")])
    assert (await same.connect())[0]
    await same.disconnect()


async def test_a_cookie_client_still_needs_its_exact_origin(voice_bot, staff_user):
    cookie = f"sessionid={await sync_to_async(_session_cookie)(staff_user)}".encode()
    foreign = _socket(voice_bot, headers=[(b"origin", b"https://evil.example"), (b"cookie", cookie)])
    assert not (await foreign.connect())[0]
    no_origin = _socket(voice_bot, headers=[(b"cookie", cookie)])  # only a token makes a script client
    assert not (await no_origin.connect())[0]


async def test_a_non_staff_token_is_refused_with_4403(voice_bot, stranger_user):
    key = await _token(stranger_user)
    ws = _socket(voice_bot, headers=[(b"authorization", f"Token {key}".encode())])
    assert (await ws.connect())[0]
    event = json.loads(await ws.receive_from(timeout=10))
    assert event == {"type": "error", "error": "Staff access required"}
    assert (await ws.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4403}
