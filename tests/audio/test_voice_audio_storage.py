"""Voice turns keep their audio: the user's utterance and the bot's spoken reply, one WAV each under
the data dir, referenced from their messages; played back on the transcript page through a staff-only
view; deleted by the cleanup after VOICEBOT_VOICE_AUDIO_RETENTION_DAYS; not stored when turned off."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from asgiref.sync import sync_to_async
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone

from audio.pcm import decode_audio
from bots.services import bot_create
from conversations.models import Message

pytestmark = [pytest.mark.voice, pytest.mark.django_db(transaction=True)]

REPLY = "We open at nine. We close at six."


@pytest.fixture
def packaged_voice_bot(db):
    return bot_create(name="Shop", whisper_model="tiny.en", whisper_device="cpu", tts_chunk_min_chars=10)


async def _voice_turn(async_client, bot, wav: bytes) -> str:
    upload = SimpleUploadedFile("q.wav", wav, content_type="audio/wav")
    response = await async_client.post(f"/api/bots/{bot.pk}/talk/stream", {"audio": upload})
    body = b"".join([chunk async for chunk in response.streaming_content])
    lines = [json.loads(line) for line in body.decode().splitlines() if line]
    assert lines[-1]["type"] == "done", lines
    return lines[0]["conversation_id"]


def _messages(conversation_id: str) -> dict[str, Message]:
    return {m.role: m for m in Message.objects.filter(conversation_id=conversation_id)}


async def test_a_voice_turn_stores_both_audios_and_the_transcript_plays_them_to_staff_only(
    async_client, packaged_voice_bot, staff_user, openai_double, question_wav, client, stranger_user
):
    openai_double.queue_text(REPLY)
    await async_client.aforce_login(staff_user)
    conversation_id = await _voice_turn(async_client, packaged_voice_bot, question_wav.read_bytes())
    messages = await sync_to_async(_messages)(conversation_id)
    user, bot = messages["user"], messages["assistant"]
    assert user.audio.name.startswith(f"voice/{conversation_id}/user-")
    assert bot.audio.name.startswith(f"voice/{conversation_id}/assistant-")
    heard, rate = decode_audio(default_storage.open(user.audio.name).read())
    assert rate == 16000 and 2.0 < len(heard) / rate < 5.0
    said, rate = decode_audio(default_storage.open(bot.audio.name).read())
    assert rate == 22050 and len(said) / rate > 1.0  # both sentences, joined

    await sync_to_async(client.force_login)(staff_user)
    page = (await sync_to_async(client.get)(f"/conversations/{conversation_id}/")).content.decode()
    for message in (user, bot):
        url = f"/conversations/{conversation_id}/messages/{message.pk}/audio.wav"
        assert f'<audio controls preload="none" class="message-audio" src="{url}"' in page
        response = await sync_to_async(client.get)(url)
        assert response.status_code == 200 and response["Content-Type"] == "audio/wav"
        assert b"".join(response.streaming_content)[:4] == b"RIFF"

    url = f"/conversations/{conversation_id}/messages/{bot.pk}/audio.wav"
    await sync_to_async(client.logout)()
    assert (await sync_to_async(client.get)(url)).status_code == 302  # to the login page
    await sync_to_async(client.force_login)(stranger_user)
    assert (await sync_to_async(client.get)(url)).status_code == 403
    assert str(bot.audio.name) not in page  # never a file path or public URL


async def test_the_cleanup_deletes_voice_audio_after_the_retention(
    async_client, packaged_voice_bot, staff_user, openai_double, question_wav, settings
):
    settings.VOICEBOT_VOICE_AUDIO_RETENTION_DAYS = 7
    openai_double.queue_text(REPLY)
    openai_double.queue_text(REPLY)
    await async_client.aforce_login(staff_user)
    old_id = await _voice_turn(async_client, packaged_voice_bot, question_wav.read_bytes())
    new_id = await _voice_turn(async_client, packaged_voice_bot, question_wav.read_bytes())
    old_files = [m.audio.name for m in (await sync_to_async(_messages)(old_id)).values()]
    # a state users cannot reach in a test run: the first turn happened 8 days ago
    await Message.objects.filter(conversation_id=old_id).aupdate(created_at=timezone.now() - dt.timedelta(days=8))

    out = io.StringIO()
    await sync_to_async(call_command)("voicebot_cleanup", stdout=out)
    assert "voice_audio: 2" in out.getvalue()
    assert not any(default_storage.exists(name) for name in old_files)
    old = await sync_to_async(_messages)(old_id)
    assert old["user"].audio.name == "" and old["assistant"].content == REPLY  # the text stays
    new = await sync_to_async(_messages)(new_id)
    assert all(default_storage.exists(m.audio.name) for m in new.values())


async def test_nothing_is_stored_when_voice_audio_is_turned_off(
    async_client, packaged_voice_bot, staff_user, openai_double, question_wav, settings
):
    settings.VOICEBOT_STORE_VOICE_AUDIO = False
    openai_double.queue_text(REPLY)
    await async_client.aforce_login(staff_user)
    conversation_id = await _voice_turn(async_client, packaged_voice_bot, question_wav.read_bytes())
    assert all(m.audio.name == "" for m in (await sync_to_async(_messages)(conversation_id)).values())
    assert not (settings.MEDIA_ROOT / "voice").exists()


async def test_a_talk_socket_turn_stores_both_audios(packaged_voice_bot, staff_user, openai_double, question_pcm16):
    from tests.audio.test_talk_socket import spoken_turn

    openai_double.queue_text(REPLY)
    events = await spoken_turn(packaged_voice_bot, staff_user, question_pcm16)
    conversation_id = events[0]["conversation_id"]
    messages = await sync_to_async(_messages)(conversation_id)
    assert messages["user"].audio.name and messages["assistant"].audio.name
    assert all(default_storage.exists(m.audio.name) for m in messages.values())
