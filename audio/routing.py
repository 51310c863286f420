"""Studio websocket routes: a staff user (session cookie, or a DRF token for script clients:
config/ws_token_auth.py) and an exact same-origin check for browsers (config/origin.py)."""

from __future__ import annotations

from django.urls import path

from audio.consumers import TalkConsumer
from config.origin import ExactOriginValidator
from config.ws_token_auth import TokenAuthMiddleware

websocket_urlpatterns: list = [
    path("ws/bots/<uuid:bot_id>/talk", TokenAuthMiddleware(ExactOriginValidator(TalkConsumer.as_asgi()))),
]
