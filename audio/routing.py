"""Studio websocket routes (staff session + same-site Origin)."""

from __future__ import annotations

websocket_urlpatterns: list = [
    # path("ws/bots/<uuid:bot_id>/talk", AllowedHostsOriginValidator(TalkConsumer.as_asgi())),
]
