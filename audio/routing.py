"""Studio websocket routes: a staff user (session cookie through Channels' auth stack, or a DRF token for
script clients: config/ws_token_auth.py) and an exact same-origin check for browsers (config/origin.py).
Only these routes carry the session middleware: the public and phone sockets authenticate otherwise,
and the session wrapper costs every send of theirs (docs/performance.md)."""

from __future__ import annotations

from channels.auth import AuthMiddlewareStack
from django.urls import path

from audio.consumers import TalkConsumer
from config.origin import ExactOriginValidator
from config.ws_token_auth import TokenAuthMiddleware

websocket_urlpatterns: list = [
    path(
        "ws/bots/<uuid:bot_id>/talk",
        AuthMiddlewareStack(TokenAuthMiddleware(ExactOriginValidator(TalkConsumer.as_asgi()))),
    ),
]
