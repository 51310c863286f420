"""Random and hostile frames on the public widget socket: every frame is answered by an `error` event
(or ignored), the socket is never closed with 1011 or an internal error, and a `history` request sent
afterwards is still answered on the same socket."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import count_case
from tests.fuzz.strategies import frames

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("openai_double")]

FRAMES = frames(["start", "chat", "history"], ["text", "user_token", "resume_token", "conversation_id"])


async def _probe_still_answers(socket) -> list[dict]:
    """Send `history` and read (bounded) until its answer; fail on any close or internal error."""
    await socket.send(type="history", req_id="probe")
    seen = []
    for _ in range(300):
        output = await socket.communicator.receive_output(timeout=20)
        assert output["type"] == "websocket.send", f"socket closed: {output} after {seen[-5:]}"
        event = json.loads(output["text"])
        seen.append(event)
        assert event.get("code") != "internal", seen
        if event.get("req_id") == "probe" and event["type"] in ("history", "error"):
            return seen  # answered (history, or a clear refusal without a token)
    raise AssertionError("no answer to the probe")


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(batch=st.lists(FRAMES, min_size=1, max_size=6))
async def test_hostile_frames_never_break_the_public_socket(batch, open_socket, live_bot, make_key, settings_override):
    _, secret, _ = await make_key()
    socket = await open_socket(live_bot.id, key=secret, user_conversation_id="fuzz")
    for kind, payload in batch:
        if kind == "text":
            await socket.send_raw(text=payload)
        else:
            await socket.send_raw(data=payload)
    await _probe_still_answers(socket)
    await socket.close()
    count_case(len(batch))


@pytest.fixture
def settings_override(settings):
    settings.VOICEBOT_EMBED_RATE_PER_KEY_PER_MINUTE = 1_000_000
    settings.VOICEBOT_EMBED_RATE_PER_CONVERSATION_PER_MINUTE = 1_000_000
    return settings
