"""A whole phone call over a real websocket: the call double (Twilio's side) against the live server.

Real components throughout: the signed webhook, the Media Streams JSON, μ-law at 8 kHz in real time,
the Studio's VAD, faster-whisper tiny.en and the Piper voice in the server, the OpenAI double; the
caller's ears are the project's ASR again.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
import soundfile as sf
from asgiref.sync import sync_to_async
from websockets.exceptions import InvalidStatus

from tests.audio.conftest import word_error_rate
from tests.telephony.call_double import CallDouble, transcribe_phone_audio
from tests.telephony.conftest import answered_call

pytestmark = [pytest.mark.voice, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

QUESTION = "What time does the store open?"
REPLY = "The store opens at nine in the morning."
LONG_REPLY = (
    "The store opens at nine. The bakery opens at ten. The pharmacy opens at eleven. "
    "The garden centre opens at noon. The cafe stays open until late in the evening."
)


def _conversation(bot):
    from conversations.models import Conversation

    return Conversation.objects.filter(bot=bot).prefetch_related("messages").get()


async def _poll(check, *, timeout_s: float = 15.0):
    """Wait until `check()` (sync, reads the database) returns something truthy; return it."""
    async with asyncio.timeout(timeout_s):
        while not (result := await sync_to_async(check)()):
            await asyncio.sleep(0.1)
    return result


async def _greeted(call: CallDouble) -> None:
    await call.wait_quiet(quiet_s=0.6, timeout_s=30)


async def test_it_answers_a_caller_in_speech_keeps_dtmf_and_finishes_on_stop(
    phone_server, phone_bot, call_double, caller_speech, asr_model_dir
):
    phone_server.double.queue_text(REPLY)
    async with answered_call(call_double, phone_server):
        await _greeted(call_double)
        greeting = call_double.frames_after(0.0)
        before = time.perf_counter()
        await call_double.say(caller_speech(QUESTION))
        await call_double.wait_quiet(quiet_s=1.0, timeout_s=60, after=call_double.speech_ended_at)
        reply_frames = call_double.frames_after(before)
        await call_double.press("4")
        await call_double.press("2")
        await _poll(lambda: _conversation(phone_bot).metadata["phone"].get("dtmf") == "42")
        await call_double.hang_up()
    assert call_double.close_code == 1000  # the server closes the socket after `stop`

    heard = await asyncio.to_thread(transcribe_phone_audio, reply_frames, asr_model_dir)
    assert word_error_rate(REPLY, heard) < 0.2, heard
    assert "welcome" in (await asyncio.to_thread(transcribe_phone_audio, greeting, asr_model_dir)).lower()

    conversation = await _poll(lambda: (c := _conversation(phone_bot)).metadata["phone"].get("ended_at") and c)
    phone = conversation.metadata["phone"]
    assert phone["caller"] == "+15551234567" and phone["called"] == "+15557654321"
    assert phone["call_sid"] == call_double.call_sid and phone["end_reason"] == "stop"
    assert phone["duration_s"] > 1
    assert conversation.test_flag is False and conversation.channel == "phone"
    messages = [(m.role, m.content) for m in conversation.messages.all()]
    assert ("assistant", "Welcome to the shop.") in messages and ("assistant", REPLY) in messages
    user = next(m for m in conversation.messages.all() if m.role == "user")
    # 8 kHz μ-law through tiny.en: "store" comes back as "story" now and then; one word in six may differ
    assert word_error_rate(QUESTION, user.content) < 0.2, user.content
    assert user.asr_ms is not None
    assistant = next(m for m in conversation.messages.all() if m.content == REPLY)
    assert assistant.total_ms is not None and assistant.tts_first_audio_ms is not None


async def test_caller_speech_during_the_reply_clears_it_and_keeps_what_was_heard(
    phone_server, phone_bot, call_double, caller_speech
):
    phone_server.double.queue_text(LONG_REPLY)
    phone_server.double.queue_text("Sure.")
    async with answered_call(call_double, phone_server):
        await _greeted(call_double)
        greeting_marks = len(call_double.marks_echoed)
        await call_double.say(caller_speech(QUESTION))
        async with asyncio.timeout(60):  # the first sentence of the reply has been played
            while len(call_double.marks_echoed) < greeting_marks + 1:
                await asyncio.sleep(0.02)
        await call_double.say(caller_speech("Wait, stop."), wait=False)
        async with asyncio.timeout(10):
            while not call_double.clears:
                await asyncio.sleep(0.02)
        await call_double.wait_quiet(quiet_s=0.8, timeout_s=60, after=call_double.clears[-1])
        await call_double.hang_up()

    def interrupted():
        return next((m for m in _conversation(phone_bot).messages.all() if m.interrupted), None)

    message = await _poll(interrupted)
    assert message.role == "assistant"
    assert message.content.startswith("The store opens at nine.")
    assert len(message.content) < len(LONG_REPLY)
    assert LONG_REPLY.startswith(message.content)


async def test_a_recorded_call_keeps_the_caller_left_and_the_bot_right(
    phone_server, phone_bot, call_double, caller_speech, asr_model_dir
):
    from audio.asr import AsrSpec, transcribe_sync
    from audio.pcm import resample
    from telephony.services import phone_line_save

    await sync_to_async(phone_line_save)(bot=phone_bot, account=phone_bot.phone_line.account, record_audio=True)
    phone_server.double.queue_text(REPLY)
    async with answered_call(call_double, phone_server):
        await _greeted(call_double)
        await call_double.say(caller_speech(QUESTION))
        await call_double.wait_quiet(quiet_s=1.0, timeout_s=60, after=call_double.speech_ended_at)
        await call_double.hang_up()
    conversation = await _poll(lambda: (c := _conversation(phone_bot)).metadata["phone"].get("recording") and c)

    recording = phone_server.data_dir / "calls" / f"{conversation.pk}.wav"
    audio, rate = sf.read(recording, dtype="float32")
    assert rate == 8000 and audio.shape[1] == 2
    assert abs(len(audio) / rate - conversation.metadata["phone"]["duration_s"]) < 1.5

    def heard(samples) -> str:
        return transcribe_sync(
            AsrSpec("faster_whisper", asr_model_dir, "cpu"), resample(samples, rate, 16000), "en"
        ).text

    caller_turns, bot_turns = _spoken_stretches(audio[:, 0], rate), _spoken_stretches(audio[:, 1], rate)
    assert len(caller_turns) == 1 and len(bot_turns) == 2, (caller_turns, bot_turns)
    (greeting, reply), (question,) = bot_turns, caller_turns
    assert greeting[1] < question[0] and question[1] < reply[0]  # in the order they were spoken
    said = [
        await asyncio.to_thread(heard, audio[start:end, channel])
        for (start, end), channel in ((greeting, 1), (question, 0), (reply, 1))
    ]
    assert "welcome" in said[0].lower(), said
    assert word_error_rate(QUESTION, said[1]) < 0.2, said
    assert word_error_rate(REPLY, said[2]) < 0.2, said


def _spoken_stretches(samples: np.ndarray, rate: int, gap_s: float = 0.6) -> list[tuple[int, int]]:
    """(start, end) sample ranges where a channel is loud, 0.2 s padded; pauses under `gap_s` join."""
    frame = rate // 50
    loud = np.flatnonzero(np.sqrt((samples[: len(samples) // frame * frame].reshape(-1, frame) ** 2).mean(1)) > 0.02)
    stretches: list[list[int]] = []
    for index in loud:
        if stretches and index - stretches[-1][1] <= gap_s * 50:
            stretches[-1][1] = index
        else:
            stretches.append([index, index])
    pad = int(0.2 * rate)
    return [(max(0, a * frame - pad), min(len(samples), (b + 1) * frame + pad)) for a, b in stretches]


async def test_a_stream_no_verified_webhook_announced_is_closed(phone_server, phone_bot, call_double):
    url = phone_server.url.replace("http", "ws", 1) + f"/telephony/twilio/{phone_bot.pk}/stream"
    await call_double.open_stream(url, {"token": "made-up", "caller": "+15550000000"})
    assert await call_double.wait_closed(timeout_s=10) == 4403


async def test_an_unsigned_handshake_is_refused_and_leaves_the_token_to_twilio(phone_server, phone_bot, call_double):
    """Someone who learnt the stream URL and a fresh token, but not the auth token, gets a 403 at the
    handshake; the token is not spent, so Twilio's own (signed) stream still opens with it."""
    hook = await asyncio.to_thread(call_double.post_webhook, server_url=phone_server.url)
    intruder = call_double.same_call()
    with pytest.raises(InvalidStatus) as refused:
        await intruder.open_stream(hook.stream_url, hook.parameters, signed=False)
    assert refused.value.response.status_code == 403

    await call_double.open_stream(hook.stream_url, hook.parameters)
    await _greeted(call_double)
    assert call_double.received  # the greeting played
    await call_double.hang_up()


async def test_a_stream_token_opens_one_stream_only(phone_server, phone_bot, call_double, caller_speech):
    hook = await asyncio.to_thread(call_double.post_webhook, server_url=phone_server.url)
    await call_double.open_stream(hook.stream_url, hook.parameters)
    await _greeted(call_double)
    replay = call_double.same_call()
    await replay.open_stream(hook.stream_url, hook.parameters)
    assert await replay.wait_closed(timeout_s=10) == 4403
    await call_double.hang_up()
