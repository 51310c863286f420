"""The project's ASGI app plus a websocket echo route, for scripts/measure_asgi_servers.py only.

The echo goes through Channels (the same consumer machinery as the talk and public sockets) but not
the engine, so messages per second compare the ASGI servers' websocket paths, not the model double.
"""

from __future__ import annotations

import os

from channels.generic.websocket import AsyncWebsocketConsumer
from channels.routing import ProtocolTypeRouter, URLRouter
from django.urls import path

from config.asgi import django_asgi_app, http_app, lifespan


class EchoConsumer(AsyncWebsocketConsumer):
    async def receive(self, text_data=None, bytes_data=None):
        await self.send(text_data=text_data, bytes_data=bytes_data)


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app if os.environ.get("MEASURE_BARE") else http_app,
        "websocket": URLRouter([path("echo", EchoConsumer.as_asgi())]),
        "lifespan": lifespan,
    }
)
