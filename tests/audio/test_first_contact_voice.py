"""First contact with voice: a new bot made in the Studio with only a name hears and speaks with the
packaged models (tiny.en, en_US-joe-medium); a bot set to a model that is not on the machine answers a
voice turn with a clear message naming the next step, never a library's error text."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from bots.models import Bot
from bots.options import api_options
from bots.services import bot_create
from bots.studio_forms import BotForm
from tests.audio.conftest import QUESTION, words
from tests.audio.test_talk_socket import spoken_turn

pytestmark = [pytest.mark.voice, pytest.mark.django_db(transaction=True)]

REPLY = "We open at nine. We close at six."


@pytest.fixture(autouse=True)
def _empty_models_dir(settings, tmp_path):
    """Nothing pulled on this machine: only what the pip packages carry."""
    settings.VOICEBOT_MODELS_DIR = tmp_path / "models"
    settings.VOICEBOT_PIPER_VOICES_DIR = tmp_path / "models" / "piper"


def _create_form_data(name: str) -> dict[str, str]:
    """What a browser posts when the user types only a name into the new-bot form."""
    form = BotForm(instance=Bot(), options=api_options())
    data = {}
    for field in form:
        value = field.value()
        if value is None or value is False:
            continue
        data[field.name] = value if isinstance(value, str) else str(value)
    data["name"] = name
    return data


async def _talk_stream(async_client, bot, wav: bytes) -> list[dict]:
    upload = SimpleUploadedFile("q.wav", wav, content_type="audio/wav")
    response = await async_client.post(f"/api/bots/{bot.pk}/talk/stream", {"audio": upload})
    assert response.status_code == 200
    body = b"".join([chunk async for chunk in response.streaming_content])
    return [json.loads(line) for line in body.decode().splitlines() if line]


async def test_a_bot_created_with_only_a_name_answers_a_spoken_question(
    async_client, staff_user, openai_double, question_wav
):
    client = Client()
    await sync_to_async(client.force_login)(staff_user)
    data = await sync_to_async(_create_form_data)("First bot")
    response = await sync_to_async(client.post)("/bots/new/", data)
    assert response.status_code == 302
    bot = await Bot.objects.aget(name="First bot")
    assert bot.whisper_model == "tiny.en" and bot.tts_vendor == "piper" and bot.tts_voice == ""
    page = (await sync_to_async(client.get)(f"/bots/{bot.pk}/")).content.decode()
    assert page.count('pill-ok">installed') == 2 and "(packaged)" in page

    openai_double.queue_text(REPLY)
    await async_client.aforce_login(staff_user)
    lines = await _talk_stream(async_client, bot, question_wav.read_bytes())
    assert not [line for line in lines if line["type"] == "error"]
    assert words(next(line for line in lines if line["type"] == "asr")["text"]) == words(QUESTION)
    assert [line for line in lines if line["type"] == "audio_wav"] and lines[-1]["text"] == REPLY


async def test_a_missing_whisper_model_is_a_clear_message_on_talk_stream(
    async_client, staff_user, openai_double, question_wav
):
    bot = await sync_to_async(bot_create)(name="Small", whisper_model="small")
    await async_client.aforce_login(staff_user)
    lines = await _talk_stream(async_client, bot, question_wav.read_bytes())
    errors = [line for line in lines if line["type"] == "error"]
    assert errors and errors[0]["error"] == (
        "Model 'small' is not installed. Download it on the bot page or run `manage.py voicebot_models pull small`."
    )
    assert not openai_double.requests  # no turn ran on a transcript that was never made


async def test_a_missing_model_is_a_clear_message_on_the_talk_socket(staff_user, question_pcm16):
    bot = await sync_to_async(bot_create)(name="Small", whisper_model="small")
    events = await spoken_turn(bot, staff_user, question_pcm16)
    errors = [e["error"] for e in events if e["type"] == "error"]
    assert errors == [
        "Model 'small' is not installed. Download it on the bot page or run `manage.py voicebot_models pull small`."
    ]


async def test_a_missing_piper_voice_is_a_clear_message(async_client, staff_user, openai_double, question_wav):
    bot = await sync_to_async(bot_create)(name="Lessac", tts_voice="en_US-lessac-medium")
    openai_double.queue_text(REPLY)
    await async_client.aforce_login(staff_user)
    lines = await _talk_stream(async_client, bot, question_wav.read_bytes())
    errors = [line["error"] for line in lines if line["type"] == "error"]
    assert errors == [
        "TTS failed: Piper voice 'en_US-lessac-medium' is not installed. Download it on the bot page or run "
        "`manage.py voicebot_models pull en_US-lessac-medium`."
    ]
    assert lines[-1]["type"] == "done" and lines[-1]["text"] == REPLY  # the text reply still arrives
