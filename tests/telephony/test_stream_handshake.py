"""The Media Streams handshake: Twilio signs it like a webhook (`X-Twilio-Signature` over the stream
URL from the TwiML, no parameters). One that is unsigned, signed with another auth token or signed
for another URL is never accepted, so whoever learns a stream URL (and even a fresh stream token)
without the auth token cannot open the socket, nor burn the token Twilio is about to use."""

from __future__ import annotations

import uuid

import pytest
from channels.testing import WebsocketCommunicator
from twilio.request_validator import RequestValidator

from config.asgi import application
from tests.telephony.conftest import AUTH_TOKEN, PUBLIC

pytestmark = [pytest.mark.django_db(transaction=True)]


def _stream_url(bot_id) -> str:
    return PUBLIC.replace("https://", "wss://", 1) + f"/telephony/twilio/{bot_id}/stream"


def _socket(bot, signature: str | None) -> WebsocketCommunicator:
    headers = [] if signature is None else [(b"x-twilio-signature", signature.encode())]
    return WebsocketCommunicator(application, f"/telephony/twilio/{bot.pk}/stream", headers=headers)


async def test_a_handshake_twilio_signed_is_accepted(line, bot):
    ws = _socket(bot, RequestValidator(AUTH_TOKEN).compute_signature(_stream_url(bot.pk), {}))
    connected, _ = await ws.connect()
    assert connected
    await ws.disconnect()


@pytest.mark.parametrize(
    "forge",
    [
        lambda bot: None,
        lambda bot: "",
        lambda bot: "bm90IGEgc2lnbmF0dXJl",
        lambda bot: RequestValidator("another-auth-token").compute_signature(_stream_url(bot.pk), {}),
        lambda bot: RequestValidator(AUTH_TOKEN).compute_signature(_stream_url(uuid.uuid4()), {}),
        lambda bot: RequestValidator(AUTH_TOKEN).compute_signature(f"{PUBLIC}/telephony/twilio/{bot.pk}/voice", {}),
    ],
    ids=["unsigned", "empty", "made up", "another auth token", "another bot's stream", "the webhook's URL"],
)
async def test_a_handshake_without_twilio_s_signature_is_refused(line, bot, forge):
    ws = _socket(bot, forge(bot))
    connected, _ = await ws.connect()
    assert not connected


async def test_a_bot_without_a_phone_line_refuses_every_handshake(bot, settings):
    settings.VOICEBOT_PUBLIC_BASE_URL = PUBLIC
    ws = _socket(bot, RequestValidator(AUTH_TOKEN).compute_signature(_stream_url(bot.pk), {}))
    connected, _ = await ws.connect()
    assert not connected


async def test_the_handshake_check_can_be_turned_off(line, bot, settings):
    settings.VOICEBOT_TWILIO_VERIFY_STREAM_SIGNATURE = False
    ws = _socket(bot, None)
    connected, _ = await ws.connect()
    assert connected  # the one-time stream token is still required by `start`
    await ws.disconnect()
