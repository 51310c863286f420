"""Fixtures for integration tests: the loopback mock third-party API, a loopback allow-list, and a
helper that runs one engine turn and collects its events."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from integrations.mock_api import MockApiServer


@pytest.fixture
def mock_api():
    with MockApiServer() as server:
        yield server


@pytest.fixture
def allow_loopback(settings):
    settings.VOICEBOT_HTTP_ALLOWED_HOSTS = ["127.0.0.1"]
    return settings


@pytest.fixture
def fast_sandbox(settings):
    """Small limits so limit tests end quickly."""
    settings.VOICEBOT_SANDBOX_WALL_SECONDS = 5
    settings.VOICEBOT_SANDBOX_CPU_SECONDS = 2
    settings.VOICEBOT_SANDBOX_MEMORY_MB = 256
    settings.VOICEBOT_SANDBOX_FILE_SIZE_MB = 1
    return settings


@pytest.fixture
def conversation(bot):
    from conversations.services import conversation_start

    return conversation_start(bot=bot)


async def run_turn_events(conversation: Any, text: str) -> list[Any]:
    from conversations.engine.turn import run_turn

    events = []
    async with contextlib.aclosing(run_turn(conversation, text)) as stream:
        async for event in stream:
            events.append(event)
    return events


def make_tool(bot: Any, **fields: Any) -> Any:
    """A tool created as the REST API and the Studio editor create it (every field validated);
    `headers` is the headers template."""
    from integrations.services_tools import tool_create

    if "headers" in fields:
        fields["headers_template"] = fields.pop("headers")
    return tool_create(bot=bot, **fields)
