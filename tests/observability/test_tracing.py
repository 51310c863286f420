"""OpenTelemetry: one trace per turn (turn, model calls, tool call with its HTTP request; ASR and TTS
chunks for voice), the conversation id as an attribute, and no message text or secret anywhere in the
spans. OTEL_* variables switch tracing on; it is off by default."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from bots.services import bot_update, provider_key_create
from integrations.mock_api import MockApiServer
from observability import tracing
from tests.integrations.conftest import make_tool

pytestmark = [pytest.mark.django_db(transaction=True)]

PROVIDER_SECRET = "sk-live-Tr4ceS3cretValue-0123456789abcdef"
HEADER_SECRET = "Bearer tr4ce-H3aderS3cret-fedcba9876543210"
USER_TEXT = "my secret plan is purple elephants"
REPLY = "Your account zebra-quartz is checked."


def _attribute_text(spans) -> str:
    return json.dumps([{**dict(span.attributes), "name": span.name} for span in spans], default=str)


def test_a_text_turn_with_a_tool_is_one_trace_without_text_or_secrets(spans, bot, staff_api, openai_double, settings):
    settings.VOICEBOT_HTTP_ALLOWED_HOSTS = ["127.0.0.1"]
    key = provider_key_create(name="Live", secret=PROVIDER_SECRET, base_url=openai_double.base_url)
    bot_update(bot=bot, openai_key_id=key.id)
    with MockApiServer() as api:
        make_tool(bot, name="whoami", url=api.url + "/v1/echo?token=q-s3cret", headers={"Authorization": HEADER_SECRET})
        openai_double.queue_tool_call("whoami", {"args": {"note": USER_TEXT}})
        openai_double.queue_text(REPLY)
        response = staff_api.post(f"/api/bots/{bot.pk}/chat", {"text": USER_TEXT}, format="json")
    assert response.status_code == 200 and response.json()["text"] == REPLY
    conversation_id = response.json()["conversation_id"]

    finished = spans.get_finished_spans()
    by_name: dict[str, list] = {}
    for span in finished:
        by_name.setdefault(span.name, []).append(span)
    assert sorted(by_name) == ["voicebot.http_request", "voicebot.model_call", "voicebot.tool_call", "voicebot.turn"]
    assert len(by_name["voicebot.model_call"]) == 2 and len(by_name["voicebot.turn"]) == 1

    turn = by_name["voicebot.turn"][0]
    assert turn.attributes["voicebot.conversation_id"] == conversation_id
    assert turn.attributes["voicebot.channel"] == "rest" and turn.attributes["voicebot.outcome"] == "ok"
    assert turn.attributes["voicebot.bot_id"] == str(bot.pk)
    assert {span.context.trace_id for span in finished} == {turn.context.trace_id}  # one trace
    tool = by_name["voicebot.tool_call"][0]
    assert tool.parent.span_id == turn.context.span_id
    assert tool.attributes["voicebot.tool.name"] == "whoami" and tool.attributes["voicebot.tool.ok"] is True
    http = by_name["voicebot.http_request"][0]
    assert http.parent.span_id == tool.context.span_id
    assert http.attributes["server.address"] == "127.0.0.1" and http.attributes["http.response.status_code"] == 200
    model = by_name["voicebot.model_call"][0]
    assert model.attributes["gen_ai.request.model"] == "gpt-4o-mini" and model.attributes["voicebot.ttft_ms"] >= 0

    text = _attribute_text(finished)
    for secret in (PROVIDER_SECRET, HEADER_SECRET, HEADER_SECRET.split()[1], "q-s3cret", "purple", "zebra"):
        assert secret not in text, secret


@pytest.mark.voice
async def test_a_voice_turn_has_asr_and_tts_chunk_spans(
    spans, async_client, voice_bot, staff_user, openai_double, question_wav
):
    openai_double.queue_text("It opens at nine. It closes at six.")
    await async_client.aforce_login(staff_user)
    upload = SimpleUploadedFile("q.wav", question_wav.read_bytes(), content_type="audio/wav")
    response = await async_client.post(f"/api/bots/{voice_bot.pk}/talk/stream", {"audio": upload})
    body = b"".join([chunk async for chunk in response.streaming_content])
    assert json.loads(body.decode().splitlines()[-1])["type"] == "done"

    finished = spans.get_finished_spans()
    names = [span.name for span in finished]
    assert names.count("voicebot.asr") == 1 and names.count("voicebot.tts_chunk") == 2
    assert names.count("voicebot.turn") == 1 and names.count("voicebot.model_call") == 1
    turn = next(span for span in finished if span.name == "voicebot.turn")
    assert {span.context.trace_id for span in finished} == {turn.context.trace_id}
    assert turn.attributes["voicebot.voice_to_voice_ms"] > 0 and turn.attributes["voicebot.asr_ms"] > 0
    assert "opens" not in _attribute_text(finished) and "store" not in _attribute_text(finished)


def test_tracing_is_off_by_default_and_switched_by_otel_variables():
    assert tracing.exporter_names({}) == []
    assert not tracing.enabled()
    assert tracing.exporter_names({"OTEL_TRACES_EXPORTER": "console"}) == ["console"]
    assert tracing.exporter_names({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}) == ["otlp"]
    assert tracing.exporter_names({"OTEL_TRACES_EXPORTER": "none"}) == []
    assert tracing.exporter_names({"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "true"}) == []
    try:
        assert tracing.configure_from_env({"OTEL_TRACES_EXPORTER": "console"}) is True
        assert tracing.enabled()
        assert tracing.configure_from_env({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "console"}) is False
        assert not tracing.enabled()
    finally:
        tracing.disable()


def test_with_tracing_off_the_hooks_make_no_spans(bot, staff_api, openai_double):
    assert not tracing.enabled()
    assert tracing.start_span("voicebot.turn") is None
    openai_double.queue_text("Fine.")
    assert staff_api.post(f"/api/bots/{bot.pk}/chat", {"text": "hi"}, format="json").status_code == 200
