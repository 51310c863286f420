"""A third-party API behind an integration tool that is down (connection refused) or hangs (read
timeout, with small timeout settings): the tool call ends with a clear error the model can explain, the
turn finishes with the model's answer instead of hanging or crashing, the call and its error are stored,
and the next turn runs normally."""

from __future__ import annotations

import contextlib
import socket
import threading

import pytest
from asgiref.sync import async_to_sync

from conversations.engine.events import Done, Error, ToolResult
from conversations.models import Message
from tests.e2e.conftest import free_port
from tests.integrations.conftest import make_tool, run_turn_events

pytestmark = pytest.mark.django_db(transaction=True)


@contextlib.contextmanager
def silent_server():
    """A loopback TCP server that accepts connections and never answers (a hung upstream)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=2)
        for conn in held:
            conn.close()
        listener.close()


def _turn(conversation, text):
    return async_to_sync(run_turn_events)(conversation, text)


def _check_failed_tool_turn(conversation, events, error_words: str) -> None:
    result = next(e for e in events if isinstance(e, ToolResult)).result
    assert result["ok"] is False and error_words in str(result["error"]).lower(), result
    assert not [e for e in events if isinstance(e, Error)]
    assert [e.text for e in events if isinstance(e, Done)] == ["Sorry, the booking system is not answering."]
    stored = list(conversation.messages.order_by("created_at").values_list("role", "tool_kind"))
    assert stored[0] == ("user", "") and stored[-1] == ("assistant", "")
    assert {kind for _, kind in stored if kind} >= {Message.ToolKind.CALL, Message.ToolKind.RESULT} - {""}


def _then_a_normal_turn_works(conversation, openai_double) -> None:
    openai_double.queue_text("Anything else?")
    events = _turn(conversation, "ok thanks")
    assert [e.text for e in events if isinstance(e, Done)] == ["Anything else?"]


def test_an_api_that_refuses_connections_becomes_a_tool_error_the_model_explains(
    bot,
    conversation,
    allow_loopback,
    openai_double,
    settings,
):
    settings.VOICEBOT_HTTP_CONNECT_TIMEOUT_S = 1.0
    make_tool(bot, name="book", url=f"http://127.0.0.1:{free_port()}/v1/appointments", method="GET")
    openai_double.queue_tool_call("book", {"args": {}})
    openai_double.queue_text("Sorry, the booking system is not answering.")
    events = _turn(conversation, "book me in")

    _check_failed_tool_turn(conversation, events, "unreachable")  # refused and hung read the same (no port oracle)
    tool_output = str(openai_double.requests[1])
    assert "book" in tool_output and "ok" in tool_output  # the model was told the call failed
    _then_a_normal_turn_works(conversation, openai_double)


def test_an_api_that_hangs_times_out_with_the_read_timeout_setting(
    bot,
    conversation,
    allow_loopback,
    openai_double,
    settings,
):
    settings.VOICEBOT_HTTP_READ_TIMEOUT_S = 0.5
    with silent_server() as url:
        make_tool(bot, name="book", url=f"{url}/v1/appointments", method="GET")
        openai_double.queue_tool_call("book", {"args": {}})
        openai_double.queue_text("Sorry, the booking system is not answering.")
        events = _turn(conversation, "book me in")

    _check_failed_tool_turn(conversation, events, "unreachable")
    _then_a_normal_turn_works(conversation, openai_double)
