"""The Twilio voice webhook: verify the signature, answer TwiML that connects the call's audio to our
Media Streams socket with a one-time token (see services)."""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.twiml.voice_response import Connect, VoiceResponse

from telephony import services

logger = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Twilio-Signature"
MAX_PARAMETER_CHARS = 64


def _twiml(response: VoiceResponse) -> HttpResponse:
    return HttpResponse(str(response), content_type="text/xml; charset=utf-8")


@csrf_exempt  # Twilio cannot send a CSRF token; its signature is the proof instead
@require_POST
def twilio_voice(request: HttpRequest, bot_id: Any) -> HttpResponse:
    if not request.headers.get(SIGNATURE_HEADER):  # anonymous: refused before anything is looked up
        return HttpResponse("Missing Twilio signature.", status=403, content_type="text/plain")
    line = services.phone_line_for_bot(bot_id)
    if line is None:
        return HttpResponse("No phone line for this bot.", status=404, content_type="text/plain")
    try:
        url = services.public_url(request.get_full_path())
    except services.PublicUrlMissing as exc:
        logger.error("phone webhook refused: %s", exc)
        return HttpResponse(str(exc), status=503, content_type="text/plain")
    signed = services.webhook_signature_valid(
        account=line.account, url=url, params=request.POST, signature=request.headers.get(SIGNATURE_HEADER, "")
    )
    if not signed or request.POST.get("AccountSid") != line.account.account_sid:
        return HttpResponse("Invalid Twilio signature.", status=403, content_type="text/plain")
    response = VoiceResponse()
    if not line.accepts_calls:
        response.say("Sorry, this line is not taking calls right now.")
        response.hangup()
        return _twiml(response)
    call = services.AnnouncedCall(
        bot_id=str(line.bot_id),
        call_sid=request.POST.get("CallSid", "")[:MAX_PARAMETER_CHARS],
        caller=request.POST.get("From", "")[:MAX_PARAMETER_CHARS],
        called=request.POST.get("To", "")[:MAX_PARAMETER_CHARS],
        account_sid=line.account.account_sid,
    )
    connect = Connect()
    stream = connect.stream(url=services.stream_url(line.bot_id))
    stream.parameter(name=services.TOKEN_PARAMETER, value=services.stream_token_issue(call))
    stream.parameter(name="caller", value=call.caller)
    stream.parameter(name="called", value=call.called)
    stream.parameter(name="callSid", value=call.call_sid)
    response.append(connect)
    return _twiml(response)
