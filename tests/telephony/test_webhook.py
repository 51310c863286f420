"""The voice webhook: only Twilio-signed requests (for the public URL) get TwiML that opens a stream."""

from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator

from telephony.services import mask_phone_number, phone_line_save
from tests.telephony.call_double import parse_twiml
from tests.telephony.conftest import ACCOUNT_SID, AUTH_TOKEN, PUBLIC


def _params(**extra):
    return {"AccountSid": ACCOUNT_SID, "CallSid": "CA123", "From": "+15551234567", "To": "+15557654321", **extra}


def _post(client, bot, params, signature=None):
    path = f"/telephony/twilio/{bot.pk}/voice"
    headers = {}
    if signature is not False:
        headers["HTTP_X_TWILIO_SIGNATURE"] = signature or RequestValidator(AUTH_TOKEN).compute_signature(
            PUBLIC + path, params
        )
    return client.post(path, params, **headers)


def test_it_answers_a_signed_webhook_with_a_stream_for_the_public_url(client, bot, line):
    response = _post(client, bot, _params())
    assert response.status_code == 200
    hook = parse_twiml(200, response.content.decode())
    assert hook.stream_url == f"wss://voice.example.com/telephony/twilio/{bot.pk}/stream"
    assert hook.parameters["caller"] == "+15551234567"
    assert hook.parameters["callSid"] == "CA123"
    assert len(hook.parameters["token"]) > 30


def test_it_refuses_an_unsigned_webhook(client, bot, line):
    assert _post(client, bot, _params(), signature=False).status_code == 403


def test_it_refuses_a_webhook_signed_with_another_token(client, bot, line):
    path = f"/telephony/twilio/{bot.pk}/voice"
    forged = RequestValidator("not-the-token").compute_signature(PUBLIC + path, _params())
    assert _post(client, bot, _params(), signature=forged).status_code == 403


def test_it_refuses_a_signature_for_the_host_the_server_sees(client, bot, line):
    path = f"/telephony/twilio/{bot.pk}/voice"
    signed_for_inner_host = RequestValidator(AUTH_TOKEN).compute_signature("http://testserver" + path, _params())
    assert _post(client, bot, _params(), signature=signed_for_inner_host).status_code == 403


def test_it_refuses_changed_parameters(client, bot, line):
    path = f"/telephony/twilio/{bot.pk}/voice"
    signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC + path, _params())
    assert _post(client, bot, _params(From="+15550000000"), signature=signature).status_code == 403


def test_it_tells_callers_when_the_line_is_closed(client, bot, line):
    phone_line_save(bot=bot, account=line.account, accepts_calls=False)
    response = _post(client, bot, _params())
    assert response.status_code == 200
    body = response.content.decode()
    assert "<Say>" in body and "<Hangup" in body and "<Stream" not in body


def test_it_answers_404_for_a_bot_without_a_phone_line(client, bot, settings):
    settings.VOICEBOT_PUBLIC_BASE_URL = PUBLIC
    assert _post(client, bot, _params(), signature="x").status_code == 404


def test_the_auth_token_is_stored_encrypted_with_a_masked_hint(line):
    account = line.account
    account.refresh_from_db()
    assert AUTH_TOKEN not in account.auth_token_ciphertext
    assert account.get_auth_token() == AUTH_TOKEN
    assert account.auth_token_hint == "test********cdef"  # AUTH_TOKEN = "test-auth-token-0123456789abcdef"


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+15551234567", "+1 ••• ••• 4567"),
        ("+442071234567", "+44 ••• 4567"),
        ("anonymous", "•••"),
        ("client:alice", "•••"),
        ("", ""),
    ],
)
def test_caller_numbers_are_masked(number, masked):
    assert mask_phone_number(number) == masked
