"""Random and hostile frames, and malformed audio, on the Studio talk socket (staff session): every
mistake is answered with an `error` event or ignored, the socket is never closed by the server, and a
probe request sent afterwards is still answered on the same socket."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audio.consumers import ALLOWED_SAMPLE_RATES
from tests.audio.conftest import asr_model_dir, piper_voice_path, voice_bot  # noqa: F401 (fixtures)
from tests.faults.conftest import talk  # noqa: F401 (fixture)
from tests.fuzz.conftest import count_case
from tests.fuzz.strategies import JSON_VALUES, frames

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("openai_double")]

FRAMES = frames(
    ["init", "start", "stop", "chat", "cancel"],
    ["text", "speak", "test_flag", "vad", "sample_rate", "conversation_id"],
)
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))


async def _probe_still_answers(ws) -> list[dict]:
    """A `chat` with empty text is always answered with an error carrying its req_id (idle or busy)."""
    await ws.send_to(text_data=json.dumps({"type": "chat", "req_id": "probe", "text": "", "speak": False}))
    seen = []
    for _ in range(500):
        output = await ws.receive_output(timeout=30)
        assert output["type"] == "websocket.send", f"socket closed: {output} after {seen[-5:]}"
        event = json.loads(output["text"])
        seen.append(event)
        if event["type"] == "error":
            assert "Traceback" not in event["error"] and event["error"], event
        if event.get("req_id") == "probe" and event["type"] == "error":
            return seen
    raise AssertionError("no answer to the probe")


async def _send(ws, kind: str, payload) -> None:
    if kind == "text":
        await ws.send_to(text_data=payload)
    else:
        await ws.send_to(bytes_data=payload)


@FUZZ
@given(batch=st.lists(FRAMES, min_size=1, max_size=6))
async def test_hostile_frames_never_break_the_talk_socket(batch, talk, voice_bot, staff_user):  # noqa: F811
    ws = await talk(voice_bot, staff_user)
    for kind, payload in batch:
        await _send(ws, kind, payload)
    await _probe_still_answers(ws)
    await ws.disconnect()
    count_case(len(batch))


AUDIO_FRAMES = st.one_of(
    st.binary(min_size=1, max_size=3201),  # odd sizes: samples straddle frames
    st.integers(min_value=1, max_value=9).map(lambda n: bytes([0x7F, 0xFF]) * (n * 1000)),  # clipped full scale
    st.just(b"\x00" * 200_000),  # one huge frame of silence
    st.just(b"\x01"),
)


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    rate=st.sampled_from(ALLOWED_SAMPLE_RATES) | JSON_VALUES,
    vad=st.booleans(),
    chunks=st.lists(AUDIO_FRAMES, min_size=1, max_size=5),
)
async def test_malformed_audio_is_answered_and_the_socket_stays_usable(
    rate,
    vad,
    chunks,
    talk,  # noqa: F811
    voice_bot,  # noqa: F811
    staff_user,
    settings,
):
    settings.VOICEBOT_MAX_UTTERANCE_BYTES = 64_000  # so a huge frame hits the limit
    ws = await talk(voice_bot, staff_user)
    await ws.send_to(
        text_data=json.dumps({"type": "start", "req_id": "a1", "sample_rate": rate, "vad": vad, "speak": False})
    )
    for chunk in chunks:
        await ws.send_to(bytes_data=chunk)
    await ws.send_to(text_data=json.dumps({"type": "stop", "req_id": "a1"}))
    await _probe_still_answers(ws)
    await ws.disconnect()
    count_case(len(chunks) + 2)
