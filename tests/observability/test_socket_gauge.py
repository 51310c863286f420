"""Open sockets are a gauge by kind: up when a widget socket is accepted, down when it closes; a widget
turn over the socket counts under channel "widget"."""

from __future__ import annotations

import pytest

from tests.embed.conftest import live_bot, make_key, open_socket  # noqa: F401  (the public socket fixtures)
from tests.observability.conftest import sample

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_widget_socket_is_counted_while_open_and_its_turn_under_widget(
    open_socket,  # noqa: F811
    live_bot,  # noqa: F811
    make_key,  # noqa: F811
    openai_double,
):
    _, secret, _ = await make_key()
    before_open = sample("voicebot_open_sockets", kind="widget")
    before_turns = sample("voicebot_turns_total", channel="widget", outcome="ok")
    openai_double.queue_text("Welcome!")
    socket = await open_socket(live_bot.pk, key=secret, user_conversation_id="u1")
    assert sample("voicebot_open_sockets", kind="widget") - before_open == 1
    await socket.send(type="start", req_id="s1")
    await socket.until("status", stage="idle")
    assert sample("voicebot_turns_total", channel="widget", outcome="ok") - before_turns == 1
    await socket.close()
    assert sample("voicebot_open_sockets", kind="widget") == before_open


@pytest.mark.voice
async def test_a_studio_talk_socket_is_counted_while_open(voice_bot, staff_user):
    from tests.audio.test_talk_socket import _connect

    before = sample("voicebot_open_sockets", kind="talk")
    ws = await _connect(voice_bot, staff_user)
    assert sample("voicebot_open_sockets", kind="talk") - before == 1
    await ws.disconnect()
    assert sample("voicebot_open_sockets", kind="talk") == before
