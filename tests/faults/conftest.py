"""Fixtures for the fault tests, and the suite's summary line ("faults: N cases, 0 failures").

The public-socket and talk-socket helpers are the ones the embed and audio suites use, imported so the
fault tests speak exactly the same protocol; nothing here replaces a component.
"""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from tests.audio.conftest import asr_model_dir, piper_voice_path, voice_bot  # noqa: F401 (fixtures)
from tests.embed.conftest import _fresh_cache, live_bot, make_key, open_socket  # noqa: F401 (fixtures)
from tests.integrations.conftest import allow_loopback, conversation, mock_api  # noqa: F401 (fixtures)

_RESULTS = {"passed": 0, "failed": 0, "skipped": 0}


def pytest_runtest_logreport(report):
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _RESULTS[report.outcome] = _RESULTS.get(report.outcome, 0) + 1


def pytest_terminal_summary(terminalreporter):
    total = sum(_RESULTS.values())
    if total:
        terminalreporter.write_line(
            f"faults: {total} cases, {_RESULTS['failed']} failures, {_RESULTS['skipped']} skipped"
        )


@pytest.fixture
def talk():
    """`await talk(bot, user)` -> a connected Studio talk socket (staff session cookie, same origin)."""
    from config.asgi import application
    from tests.audio.test_talk_socket import _session_cookie

    opened: list[WebsocketCommunicator] = []

    async def connect(bot, user, origin: bytes = b"http://testserver") -> WebsocketCommunicator:
        cookie = await sync_to_async(_session_cookie)(user)
        communicator = WebsocketCommunicator(
            application,
            f"/ws/bots/{bot.pk}/talk",
            headers=[(b"origin", origin), (b"cookie", f"sessionid={cookie}".encode())],
        )
        connected, _ = await communicator.connect(timeout=10)
        assert connected
        opened.append(communicator)
        return communicator

    return connect
