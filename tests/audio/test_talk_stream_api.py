"""POST /api/bots/<uuid>/talk/stream through Django's ASGI handler: a WAV upload in, NDJSON out."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
import soundfile as sf
from django.core.files.uploadedfile import SimpleUploadedFile

from audio.pcm import decode_audio
from conversations.models import Message
from tests.audio.conftest import QUESTION, words

pytestmark = [pytest.mark.voice, pytest.mark.django_db(transaction=True)]

REPLY = "It opens at nine. It closes at six."


def _url(bot) -> str:
    return f"/api/bots/{bot.pk}/talk/stream"


async def _lines(response) -> list[dict]:
    body = b"".join([chunk async for chunk in response.streaming_content])
    return [json.loads(line) for line in body.decode().splitlines() if line]


async def test_a_wav_upload_streams_transcript_text_and_audio(
    async_client, voice_bot, staff_user, openai_double, question_wav
):
    openai_double.queue_text(REPLY)
    await async_client.aforce_login(staff_user)
    upload = SimpleUploadedFile("q.wav", question_wav.read_bytes(), content_type="audio/wav")
    response = await async_client.post(_url(voice_bot), {"audio": upload})
    assert response.status_code == 200 and response["Content-Type"] == "application/x-ndjson"
    lines = await _lines(response)
    types = [line["type"] for line in lines]
    assert types[0] == "conversation" and lines[0]["id"] == lines[0]["conversation_id"]
    assert words(next(line for line in lines if line["type"] == "asr")["text"]) == words(QUESTION)
    audio = [line for line in lines if line["type"] == "audio_wav"]
    assert len(audio) == 2 and types[-1] == "done" and lines[-1]["text"] == REPLY
    _, rate = decode_audio(base64.b64decode(audio[0]["wav_base64"]))
    assert rate == audio[0]["sr"] == 22050
    stored = [m.role async for m in Message.objects.filter(conversation_id=lines[0]["id"])]
    assert stored == ["user", "assistant"]


async def test_it_answers_400_for_an_undecodable_upload(async_client, voice_bot, staff_user):
    await async_client.aforce_login(staff_user)
    upload = SimpleUploadedFile("q.wav", b"definitely not audio", content_type="audio/wav")
    response = await async_client.post(_url(voice_bot), {"audio": upload})
    assert response.status_code == 400 and response.json()["detail"].startswith("Could not decode audio")


async def test_it_answers_400_for_an_empty_recording(async_client, voice_bot, staff_user):
    await async_client.aforce_login(staff_user)
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(0, dtype=np.float32), 16000, format="WAV", subtype="PCM_16")
    response = await async_client.post(_url(voice_bot), {"audio": SimpleUploadedFile("e.wav", buffer.getvalue())})
    assert response.status_code == 400 and response.json() == {"detail": "Empty audio"}


async def test_it_is_for_staff_only(async_client, voice_bot, stranger_user, question_wav):
    upload = SimpleUploadedFile("q.wav", question_wav.read_bytes())
    assert (await async_client.post(_url(voice_bot), {"audio": upload})).status_code in (401, 403)
    await async_client.aforce_login(stranger_user)
    upload = SimpleUploadedFile("q.wav", question_wav.read_bytes())
    assert (await async_client.post(_url(voice_bot), {"audio": upload})).status_code == 403
