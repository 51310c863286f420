"""Studio websocket routes (staff session + an exact same-origin check, config/origin.py)."""

from __future__ import annotations

from django.urls import path

from audio.consumers import TalkConsumer
from config.origin import ExactOriginValidator

websocket_urlpatterns: list = [
    path("ws/bots/<uuid:bot_id>/talk", ExactOriginValidator(TalkConsumer.as_asgi())),
]
