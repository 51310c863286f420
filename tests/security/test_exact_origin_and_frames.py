"""The Studio talk socket's exact Origin rule (config/origin.py) and bounded JSON frames on both sockets.

A page on `http://localhost:9999` must not open the talk socket of a server on `http://localhost:8000`
with the staff user's cookie (the old check compared host names only); deeply nested JSON is an
`error` event on an open socket, not a RecursionError that closes it with 1011.
"""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from config.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)

DEEP_FRAMES = ["[" * 5000, '{"a":' * 5000, "[" * 5000 + "]" * 5000, '{"type":"chat","req_id":"r","x":' + "[" * 100]


async def _talk(bot, user, *, origin: str, host: str | None = "localhost:8000", extra: list | None = None):
    from tests.audio.test_talk_socket import _session_cookie

    cookie = await sync_to_async(_session_cookie)(user)
    headers = [(b"origin", origin.encode()), (b"cookie", f"sessionid={cookie}".encode()), *(extra or [])]
    if host is not None:
        headers.append((b"host", host.encode()))
    communicator = WebsocketCommunicator(application, f"/ws/bots/{bot.pk}/talk", headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    return communicator, connected


@pytest.mark.parametrize(
    "origin",
    [
        "http://localhost:9999",  # another port on the same host
        "https://localhost:8000",  # another scheme
        "http://localhost",  # the default port is another port
        "http://127.0.0.1:8000",  # another host name for the same machine
        "null",
        "http://localhost:8000/path",
    ],
)
async def test_the_talk_socket_refuses_an_origin_that_is_not_exactly_its_own(bot, staff_user, origin):
    communicator, connected = await _talk(bot, staff_user, origin=origin)
    assert not connected, origin
    await communicator.disconnect()


async def test_the_talk_socket_accepts_its_own_origin(bot, staff_user):
    communicator, connected = await _talk(bot, staff_user, origin="http://localhost:8000")
    assert connected
    await communicator.disconnect()


async def test_a_host_outside_allowed_hosts_is_refused_even_when_origin_matches_it(bot, staff_user):
    # DNS rebinding: evil.example resolves to our server; Origin and Host agree, but the host is not ours
    communicator, connected = await _talk(bot, staff_user, origin="http://evil.example:8000", host="evil.example:8000")
    assert not connected
    await communicator.disconnect()


async def test_csrf_trusted_origins_and_a_tls_proxy_are_honoured(bot, staff_user, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://studio.example.com"]
    communicator, connected = await _talk(bot, staff_user, origin="https://studio.example.com")
    assert connected
    await communicator.disconnect()
    communicator, connected = await _talk(bot, staff_user, origin="https://studio.example.com:8443")
    assert not connected
    await communicator.disconnect()

    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    forwarded = [(b"x-forwarded-proto", b"https")]
    communicator, connected = await _talk(
        bot, staff_user, origin="https://localhost", host="localhost", extra=forwarded
    )
    assert connected
    await communicator.disconnect()
    communicator, connected = await _talk(bot, staff_user, origin="http://localhost", host="localhost", extra=forwarded)
    assert not connected
    await communicator.disconnect()


async def _error(communicator) -> dict:
    for _ in range(20):
        event = json.loads(await communicator.receive_from(timeout=5))
        if event["type"] == "error":
            return event
    raise AssertionError("no error event")


async def test_deeply_nested_json_on_the_talk_socket_is_an_error_and_the_socket_stays_open(bot, staff_user):
    communicator, connected = await _talk(bot, staff_user, origin="http://localhost:8000")
    assert connected
    for frame in DEEP_FRAMES:
        await communicator.send_to(text_data=frame)
        event = await _error(communicator)
        assert event["code"] == "bad_request" and "nested deeper" in event["error"], frame[:20]
    await communicator.send_to(text_data=json.dumps({"type": "dance", "req_id": "x"}))
    assert (await _error(communicator))["error"] == "Unknown message type: dance"  # still parsing frames
    await communicator.disconnect()


async def test_deeply_nested_json_on_the_public_socket_is_an_error_and_the_socket_stays_open(openai_double, bot):
    from embed import services

    _, secret, _ = await sync_to_async(services.client_key_create)(name="site")
    communicator = WebsocketCommunicator(
        application, f"/public/v1/ws/bots/{bot.pk}/chat?key={secret}&user_conversation_id=visitor-1"
    )
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    for frame in DEEP_FRAMES:
        await communicator.send_to(text_data=frame)
        event = json.loads(await communicator.receive_from(timeout=5))
        assert event["type"] == "error" and event["code"] == "bad_request" and "nested deeper" in event["error"]
    openai_double.queue_text("Still here.")
    await communicator.send_to(text_data=json.dumps({"type": "chat", "req_id": "c1", "text": "hello?"}))
    events = []
    while not events or events[-1].get("type") != "done":
        events.append(json.loads(await communicator.receive_from(timeout=10)))
    assert events[-1]["text"] == "Still here."
    await communicator.disconnect()
