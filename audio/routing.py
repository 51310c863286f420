"""Studio websocket routes (staff session + same-site Origin)."""

from __future__ import annotations

from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from audio.consumers import TalkConsumer

websocket_urlpatterns: list = [
    path("ws/bots/<uuid:bot_id>/talk", AllowedHostsOriginValidator(TalkConsumer.as_asgi())),
]
