"""REST chat with `speak`: the reply spoken by the bot's voice (the packaged Piper voice), in the
reference's field names, and heard back word for word by the packaged faster-whisper model.
`conversations` gets the voice through the speaker `audio` registers (conversations.speakers)."""

from __future__ import annotations

import base64
import json

import pytest

from audio.asr import AsrSpec, transcribe_sync
from audio.pcm import decode_audio, decode_for_asr
from bots.services import bot_update
from conversations.models import Conversation
from tests.audio.conftest import word_error_rate

pytestmark = [
    pytest.mark.voice,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous iterators"),
]

REPLY = "The store opens early in the morning. It closes late in the evening."


def _heard(wav: bytes, asr_model_dir: str) -> str:
    spec = AsrSpec(engine="faster_whisper", model=asr_model_dir, device="cpu")
    return transcribe_sync(spec, decode_for_asr(wav), "en").text


def test_chat_with_speak_returns_one_wav_that_says_the_reply(staff_api, voice_bot, openai_double, asr_model_dir):
    openai_double.queue_text(REPLY)
    response = staff_api.post(
        f"/api/bots/{voice_bot.pk}/chat", {"text": "When do you open?", "speak": True}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["text"] == REPLY
    wav = base64.b64decode(body["audio_wav_base64"])
    samples, rate = decode_audio(wav)
    assert rate == body["sr"] == 22050 and len(samples) / rate > 2.0  # both sentences, in one file
    assert word_error_rate(REPLY, _heard(wav, asr_model_dir)) <= 0.2
    assert "tts_first_audio" in body["metrics"]


def test_chat_stream_with_speak_sends_audio_events_before_done(staff_api, voice_bot, openai_double):
    openai_double.queue_text(REPLY)
    response = staff_api.post(
        f"/api/bots/{voice_bot.pk}/chat/stream", {"text": "When do you open?", "speak": True}, format="json"
    )
    lines = [json.loads(line) for line in b"".join(response).decode().splitlines() if line]
    kinds = [line["type"] for line in lines]
    audio = [line for line in lines if line["type"] == "audio_wav"]
    assert len(audio) == 2 and kinds.index("audio_wav") < kinds.index("done") and kinds[-1] == "done"
    assert {a["sr"] for a in audio} == {22050} and lines[-1]["text"] == REPLY
    assert decode_audio(base64.b64decode(audio[0]["wav_base64"]))[1] == 22050


def test_chat_without_speak_has_no_audio(staff_api, voice_bot, openai_double):
    openai_double.queue_text(REPLY)
    body = staff_api.post(f"/api/bots/{voice_bot.pk}/chat", {"text": "When?"}, format="json").json()
    assert body["text"] == REPLY and "audio_wav_base64" not in body


@pytest.mark.parametrize("stream", [False, True])
def test_a_bot_that_cannot_speak_here_is_a_400_before_anything_is_stored(staff_api, voice_bot, openai_double, stream):
    bot_update(bot=voice_bot, tts_voice="/nonexistent/voice.onnx")
    url = f"/api/bots/{voice_bot.pk}/chat" + ("/stream" if stream else "")
    response = staff_api.post(url, {"text": "When?", "speak": True}, format="json")
    assert response.status_code == 400
    assert "cannot speak on this server" in response.json()["detail"] and "does not exist" in response.json()["detail"]
    assert not Conversation.objects.exists() and openai_double.requests == []
