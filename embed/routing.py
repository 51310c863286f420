"""Public websocket routes (client key + the key's allowed origins)."""

from __future__ import annotations

from django.urls import path

from embed.consumers import PublicChatConsumer

websocket_urlpatterns: list = [
    path("public/v1/ws/bots/<uuid:bot_id>/chat", PublicChatConsumer.as_asgi()),
]
