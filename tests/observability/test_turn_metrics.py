"""A text turn (REST chat) and a voice turn (REST talk/stream) land in the project's histograms and
counters with the right labels."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.observability.conftest import sample

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous iterators"),
]

REST = {"channel": "rest"}
TURN_OK = {"channel": "rest", "outcome": "ok"}


def test_a_text_turn_counts_its_outcome_duration_model_ttft_and_tool_call(staff_api, bot, openai_double):
    before = {
        "turns": sample("voicebot_turns_total", **TURN_OK),
        "duration": sample("voicebot_turn_duration_seconds_count", **TURN_OK),
        "ttft": sample("voicebot_model_ttft_seconds_count", **REST),
        "calls": sample("voicebot_model_calls_total", outcome="ok"),
        "tool": sample("voicebot_tool_call_seconds_count", tool_type="SetMetadataTool", outcome="ok"),
    }
    openai_double.queue_tool_call("set_metadata", {"firstName": "Ana"})
    openai_double.queue_text("Noted, Ana.")
    response = staff_api.post(f"/api/bots/{bot.pk}/chat", {"text": "I am Ana"}, format="json")
    assert response.status_code == 200 and response.json()["text"] == "Noted, Ana."

    assert sample("voicebot_turns_total", **TURN_OK) - before["turns"] == 1
    assert sample("voicebot_turn_duration_seconds_count", **TURN_OK) - before["duration"] == 1
    assert sample("voicebot_model_ttft_seconds_count", **REST) - before["ttft"] == 2  # two model calls
    assert sample("voicebot_model_calls_total", outcome="ok") - before["calls"] == 2
    assert sample("voicebot_tool_call_seconds_count", tool_type="SetMetadataTool", outcome="ok") - before["tool"] == 1


def test_a_provider_error_counts_as_an_error_turn(staff_api, bot, openai_double):
    labels = {"channel": "rest", "outcome": "error"}
    before = sample("voicebot_turns_total", **labels), sample("voicebot_model_calls_total", outcome="error")
    openai_double.queue_error(500)
    lines = [
        json.loads(line)
        for line in b"".join(staff_api.post(f"/api/bots/{bot.pk}/chat/stream", {"text": "hi"}, format="json"))
        .decode()
        .splitlines()
    ]
    assert lines[-1]["type"] == "error"
    assert sample("voicebot_turns_total", **labels) - before[0] == 1
    assert sample("voicebot_model_calls_total", outcome="error") - before[1] == 1


@pytest.mark.voice
async def test_a_voice_turn_fills_the_asr_tts_and_voice_to_voice_histograms(
    async_client, voice_bot, staff_user, openai_double, question_wav
):
    names = [
        ("voicebot_asr_seconds_count", REST),
        ("voicebot_tts_first_audio_seconds_count", REST),
        ("voicebot_voice_to_voice_seconds_count", REST),
        ("voicebot_model_ttft_seconds_count", REST),
        ("voicebot_turns_total", TURN_OK),
    ]
    before = [sample(name, **labels) for name, labels in names]
    openai_double.queue_text("It opens at nine. It closes at six.")
    await async_client.aforce_login(staff_user)
    upload = SimpleUploadedFile("q.wav", question_wav.read_bytes(), content_type="audio/wav")
    response = await async_client.post(f"/api/bots/{voice_bot.pk}/talk/stream", {"audio": upload})
    body = b"".join([chunk async for chunk in response.streaming_content])
    assert json.loads(body.decode().splitlines()[-1])["type"] == "done"

    after = [sample(name, **labels) for name, labels in names]
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1, 1, 1, 1]
    assert sample("voicebot_voice_to_voice_seconds_sum", **REST) > 0
