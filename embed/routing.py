"""Public websocket routes (client key + the key's allowed origins)."""

from __future__ import annotations

websocket_urlpatterns: list = [
    # path("public/v1/ws/bots/<uuid:bot_id>/chat", PublicChatConsumer.as_asgi()),
]
