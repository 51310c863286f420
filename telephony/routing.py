"""The phone line's websocket route (Twilio connects here; no session, no Origin: a one-time token)."""

from __future__ import annotations

from django.urls import path

from telephony.consumers import TwilioStreamConsumer

websocket_urlpatterns: list = [
    path("telephony/twilio/<uuid:bot_id>/stream", TwilioStreamConsumer.as_asgi()),
]
