"""GET /api/tts/meta (a voice's speakers and languages) and the Studio's "Preview voice".

A multi-speaker Piper voice is built here: a copy of the packaged voice's .onnx with a .onnx.json that
declares three speakers. Piper reads such a config, but its model has one speaker, so Piper cannot
synthesise a chosen speaker with it (onnxruntime refuses the `sid` input): the speaker list is
checked at the meta level, and preview of that voice answers a clear 400, not a 500. The packaged
single-speaker voice is previewed for real and heard back by the packaged faster-whisper model.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from audio.asr import AsrSpec, transcribe_sync
from audio.pcm import decode_for_asr
from bots.services import bot_create
from studio.views.voice_preview import PREVIEW_TEXT
from tests.audio.conftest import word_error_rate

pytestmark = [pytest.mark.voice]

MULTI = "en_US-multi-medium"
SPEAKERS = {"carol": 2, "alice": 0, "bob": 1}


@pytest.fixture
def multi_speaker_voice(settings, tmp_path, piper_voice_path) -> Path:
    voices = tmp_path / "piper"
    voices.mkdir()
    model = voices / f"{MULTI}.onnx"
    shutil.copy(piper_voice_path, model)
    config = json.loads(Path(f"{piper_voice_path}.json").read_text())
    config.update(num_speakers=len(SPEAKERS), speaker_id_map=SPEAKERS)
    Path(f"{model}.json").write_text(json.dumps(config))
    settings.VOICEBOT_PIPER_VOICES_DIR = voices
    return model


def test_it_lists_the_speakers_of_a_multi_speaker_piper_voice(staff_api, multi_speaker_voice, db):
    body = staff_api.get(f"/api/tts/meta?engine=piper&voice={MULTI}").json()
    assert body["speakers"] == ["alice", "bob", "carol"]  # in speaker-id order
    assert body["engine"] == "piper" and body["available"] and body["languages"] == ["en_US"]
    bot = bot_create(name="Multi", tts_vendor="piper", tts_voice=MULTI)
    assert staff_api.get(f"/api/tts/meta?bot_id={bot.pk}").json()["speakers"] == ["alice", "bob", "carol"]


def test_a_single_speaker_voice_has_no_speakers(staff_api, voice_bot):
    body = staff_api.get(f"/api/tts/meta?bot_id={voice_bot.pk}").json()
    assert body == {
        "engine": "piper",
        "voice": "en_US-joe-medium",
        "speakers": [],
        "languages": ["en_US"],
        "available": True,
        "detail": "",
    }


def test_the_reference_parameters_and_refusals(staff_api, db):
    # model_name as the reference sent it: known models only (never a download of any name)
    body = staff_api.get("/api/tts/meta?model_name=tts_models/multilingual/multi-dataset/xtts_v2").json()
    assert body["engine"] == "xtts" and body["speakers"] == [] and body["languages"] == []
    assert body["available"] is False and "Coqui TTS is not installed" in body["detail"]
    unknown = staff_api.get("/api/tts/meta?model_name=tts_models/en/ljspeech/vits")
    assert unknown.status_code == 400 and "Unknown XTTS model" in unknown.json()["detail"]
    assert staff_api.get("/api/tts/meta?engine=piper&voice=/etc/passwd").status_code == 400
    assert staff_api.get("/api/tts/meta?engine=nope").status_code == 400
    assert staff_api.get("/api/tts/meta?bot_id=not-a-uuid").status_code == 400
    openai = staff_api.get("/api/tts/meta?engine=openai_tts").json()
    assert openai["engine"] == "openai" and "alloy" in openai["speakers"]


def test_only_staff_read_voice_meta(anonymous_api, stranger_api, db):
    assert anonymous_api.get("/api/tts/meta?engine=openai").status_code in (401, 403)
    assert stranger_api.get("/api/tts/meta?engine=openai").status_code == 403


def test_preview_speaks_a_sentence_in_the_bots_voice(staff_client, voice_bot, asr_model_dir):
    response = staff_client.post(f"/bots/{voice_bot.pk}/voice-preview/")
    assert response.status_code == 200 and response["Content-Type"] == "audio/wav"
    spec = AsrSpec(engine="faster_whisper", model=asr_model_dir, device="cpu")
    heard = transcribe_sync(spec, decode_for_asr(response.content), "en").text
    assert word_error_rate(PREVIEW_TEXT, heard) <= 0.2


def test_preview_of_a_voice_piper_cannot_run_is_a_400(staff_client, multi_speaker_voice, db):
    bot = bot_create(name="Multi", tts_vendor="piper", tts_voice=MULTI)
    response = staff_client.post(f"/bots/{bot.pk}/voice-preview/", {"speaker_id": "bob"})
    assert response.status_code == 400 and "could not speak" in response.json()["detail"]


def test_preview_is_staff_only(stranger_client, voice_bot):
    from django.test import Client

    assert Client().post(f"/bots/{voice_bot.pk}/voice-preview/").status_code == 302  # to the login page
    assert stranger_client.post(f"/bots/{voice_bot.pk}/voice-preview/").status_code == 403


def test_the_bot_page_has_the_voice_picker(staff_client, voice_bot):
    html = staff_client.get(f"/bots/{voice_bot.pk}/").content.decode()
    assert 'id="voice-picker"' in html and f"/api/tts/meta?bot_id={voice_bot.pk}" in html
    assert f"/bots/{voice_bot.pk}/voice-preview/" in html and "studio/voice-picker.js" in html
