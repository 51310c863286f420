"""Fixtures for the public socket tests: client keys and a connected WebsocketCommunicator."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from embed import services


@pytest.fixture
def make_key(transactional_db):
    async def make(**kwargs):
        """`await make_key(...)` -> (key, secret, signing_secret)."""
        return await database_sync_to_async(services.client_key_create)(name=kwargs.pop("name", "site"), **kwargs)

    return make


@pytest.fixture
def live_bot(transactional_db):
    from bots.services import bot_create

    return bot_create(name="Embed bot", system_prompt="You are a helpful shop assistant.", openai_model="gpt-4o-mini")


class Socket:
    """A thin helper over WebsocketCommunicator that speaks the public protocol's JSON."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.communicator = communicator
        self.seen: list[dict] = []

    async def send(self, **message) -> None:
        await self.communicator.send_to(text_data=json.dumps(message))

    async def send_raw(self, text: str | None = None, data: bytes | None = None) -> None:
        await self.communicator.send_to(text_data=text, bytes_data=data)

    async def receive(self, timeout: float = 10) -> dict:
        event = await self.communicator.receive_json_from(timeout=timeout)
        self.seen.append(event)
        return event

    async def until(self, kind: str, *, stage: str | None = None, timeout: float = 10) -> list[dict]:
        """Events up to and including the first of type `kind` (and `stage` for status)."""
        got = []
        for _ in range(500):
            event = await self.receive(timeout)
            got.append(event)
            if event["type"] == kind and (stage is None or event.get("stage") == stage):
                return got
        raise AssertionError(f"no {kind} event in {got}")

    async def closed_with(self, timeout: float = 5) -> int:
        output = await self.communicator.receive_output(timeout)
        assert output["type"] == "websocket.close", output
        return output["code"]

    async def close(self) -> None:
        await self.communicator.disconnect()


@pytest.fixture
def open_socket():
    from config.asgi import application

    sockets: list[Socket] = []

    async def open_(bot_id, *, origin: str | None = None, path: str | None = None, **query) -> Socket:
        url = path or f"/public/v1/ws/bots/{bot_id}/chat?{urlencode(query)}"
        headers = [(b"origin", origin.encode())] if origin else []
        communicator = WebsocketCommunicator(application, url, headers=headers)
        connected, _ = await communicator.connect(timeout=10)
        assert connected
        socket = Socket(communicator)
        sockets.append(socket)
        return socket

    yield open_


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters and turn locks live in the cache; each test starts without any."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
