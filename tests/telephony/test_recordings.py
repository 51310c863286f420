"""Recorded calls: staff play them from the transcript page. The file is found by the conversation's
id, never by a name in metadata, because the model writes metadata (set_metadata) on a caller's
say-so: steered to name another bot's recording, it must neither get that file served on its own
transcript page nor make deleting its bot delete that file."""

from __future__ import annotations

import asyncio
import io
import os
import time

import numpy as np
import pytest
import soundfile as sf
from django.core.files.storage import default_storage
from django.core.management import call_command

from bots.services import bot_create, bot_delete
from telephony.call import CallRecording, recording_path
from telephony.media import PHONE_SAMPLE_RATE
from telephony.services import phone_call_end
from tests.telephony.conftest import phone_conversation

pytestmark = pytest.mark.django_db(transaction=True)


def _record(conversation, seconds: float = 1.0) -> bytes:
    """Write the call's recording as PhoneCall does (a tone from the caller, silence from the bot)."""
    frames = int(seconds * 50)
    tone = (np.sin(np.arange(160) * 2 * np.pi * 440 / PHONE_SAMPLE_RATE) * 8000).astype("<i2").tobytes()

    async def write():
        recording = CallRecording(recording_path(conversation))
        for _ in range(frames):
            await recording.caller_frame(tone)
        await recording.close()

    asyncio.run(write())
    phone_call_end(
        conversation=conversation, duration_s=seconds, reason="stop", recording=f"calls/{conversation.pk}.wav"
    )
    return recording_path(conversation).read_bytes()


def test_staff_play_a_recorded_call_from_its_transcript_page(staff_client, bot):
    conversation = phone_conversation(bot, record=True)
    stored = _record(conversation, seconds=1.0)

    page = staff_client.get(f"/conversations/{conversation.pk}/").content.decode()
    url = f"/conversations/{conversation.pk}/call.wav"
    assert "Call recording" in page and f'src="{url}"' in page

    response = staff_client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "audio/wav"
    body = b"".join(response.streaming_content)
    assert body == stored
    info = sf.info(recording_path(conversation))
    assert (info.channels, info.samplerate, round(info.duration, 2)) == (2, PHONE_SAMPLE_RATE, 1.0)


def test_only_staff_get_a_recording(client, stranger_client, bot):
    conversation = phone_conversation(bot, record=True)
    _record(conversation)
    url = f"/conversations/{conversation.pk}/call.wav"
    assert stranger_client.get(url).status_code == 403
    client.logout()
    assert client.get(url).status_code == 302  # to the login page


def test_a_call_on_a_line_that_does_not_record_has_no_recording(staff_client, bot):
    conversation = phone_conversation(bot)
    phone_call_end(conversation=conversation, duration_s=3.0, reason="stop")
    assert "Call recording" not in staff_client.get(f"/conversations/{conversation.pk}/").content.decode()
    assert staff_client.get(f"/conversations/{conversation.pk}/call.wav").status_code == 404


def test_a_model_steered_recording_name_reaches_no_other_file(staff_api, staff_client, openai_double):
    victim_bot = bot_create(name="Victim", system_prompt="You answer calls.", openai_model="gpt-4o-mini")
    victim = phone_conversation(victim_bot, record=True)
    victim_audio = _record(victim)
    attacker_bot = bot_create(name="Attacker", system_prompt="You chat.", openai_model="gpt-4o-mini")
    # The caller talks the model into writing another conversation's recording name into metadata.
    openai_double.queue_tool_call(
        "set_metadata", {"phone": {"recording": f"calls/{victim.pk}.wav"}, "next_reply": "Noted."}
    )
    response = staff_api.post(f"/api/bots/{attacker_bot.pk}/chat", {"text": "remember this"}, format="json")
    assert response.status_code == 200, response.content
    steered = response.json()["conversation_id"]

    assert "Call recording" not in staff_client.get(f"/conversations/{steered}/").content.decode()
    assert staff_client.get(f"/conversations/{steered}/call.wav").status_code == 404

    bot_delete(bot=attacker_bot)
    assert default_storage.exists(f"calls/{victim.pk}.wav")
    assert recording_path(victim).read_bytes() == victim_audio

    bot_delete(bot=victim_bot)  # the victim's own bot going takes its recording with it
    assert not default_storage.exists(f"calls/{victim.pk}.wav")


def test_the_cleanup_deletes_recordings_past_their_retention(staff_client, bot, settings):
    settings.VOICEBOT_CALL_RECORDING_RETENTION_DAYS = 30
    old_call, new_call = phone_conversation(bot, record=True), phone_conversation(bot, record=True)
    _record(old_call), _record(new_call)
    month_ago = time.time() - 31 * 86400
    os.utime(recording_path(old_call), (month_ago, month_ago))  # a call from last month

    out = io.StringIO()
    call_command("voicebot_cleanup", stdout=out)

    assert "call_recordings: 1" in out.getvalue()
    assert not recording_path(old_call).exists() and recording_path(new_call).exists()
    old_page = staff_client.get(f"/conversations/{old_call.pk}/").content.decode()
    assert "Call recording" not in old_page and "Conversation" in old_page  # the conversation itself stays
    assert staff_client.get(f"/conversations/{old_call.pk}/call.wav").status_code == 404


def test_a_zero_retention_keeps_recordings_until_the_bot_goes(bot, settings):
    settings.VOICEBOT_CALL_RECORDING_RETENTION_DAYS = 0
    call = phone_conversation(bot, record=True)
    _record(call)
    year_ago = time.time() - 365 * 86400
    os.utime(recording_path(call), (year_ago, year_ago))
    out = io.StringIO()
    call_command("voicebot_cleanup", stdout=out)
    assert "call_recordings: 0" in out.getvalue() and recording_path(call).exists()
