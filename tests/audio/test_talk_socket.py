"""The Studio talk socket over a real websocket (Channels' communicator on the project's ASGI app):
spoken PCM16 in, recognised words, streamed text, one WAV per sentence and metrics out."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from audio.asr import load_asr, spec_for_bot
from audio.pcm import decode_audio
from config.asgi import application
from conversations.models import Conversation, Message
from tests.audio.conftest import QUESTION, words

pytestmark = [pytest.mark.voice, pytest.mark.django_db(transaction=True)]

REPLY = "The store opens at nine in the morning. It closes at six in the evening. See you soon!"
FRAME = 3200  # 100 ms of 16 kHz PCM16


def _session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def _connect(bot, user=None, origin: bytes = b"http://testserver"):
    headers = [(b"origin", origin)]
    if user is not None:
        headers.append((b"cookie", f"sessionid={await sync_to_async(_session_cookie)(user)}".encode()))
    communicator = WebsocketCommunicator(application, f"/ws/bots/{bot.pk}/talk", headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def _send(communicator, **message):
    await communicator.send_to(text_data=json.dumps(message))


async def _events_until(communicator, stop_type: str = "idle", timeout: float = 60) -> list[dict]:
    events = []
    while True:
        event = json.loads(await communicator.receive_from(timeout=timeout))
        events.append(event)
        if event["type"] == "status" and event.get("stage") == stop_type:
            return events


async def _speak(communicator, pcm: bytes, frame: int = FRAME) -> None:
    for i in range(0, len(pcm), frame):
        await communicator.send_to(bytes_data=pcm[i : i + frame])


async def spoken_turn(bot, user, pcm: bytes, req_id: str = "r1") -> list[dict]:
    """Push-to-talk as the mic test does it: connect as `user`, `start`, the audio, `stop`; every event
    of the turn up to `status idle`."""
    ws = await _connect(bot, user)
    await _send(ws, type="start", req_id=req_id)
    events = await _events_until(ws, "recording", timeout=30)
    await _speak(ws, pcm)
    await _send(ws, type="stop", req_id=req_id)
    events += await _events_until(ws)
    await ws.disconnect()
    return events


async def test_a_spoken_question_is_answered_with_streamed_text_and_audio(
    voice_bot, staff_user, openai_double, question_pcm16
):
    openai_double.queue_text(REPLY, token_delay_s=0.15)
    ws = await _connect(voice_bot, staff_user)
    await _send(ws, type="start", req_id="r1")
    started = await _events_until(ws, "recording")
    conversation_id = started[0]["conversation_id"]
    await _speak(ws, question_pcm16, frame=3201)  # odd-sized frames: samples straddle frames
    await _send(ws, type="stop", req_id="r1")
    events = await _events_until(ws)
    await ws.disconnect()

    types = [e["type"] for e in events]
    assert all(e["req_id"] == "r1" for e in events)
    asr = next(e for e in events if e["type"] == "asr")
    assert words(asr["text"]) == words(QUESTION)
    deltas = [e["delta"] for e in events if e["type"] == "text_delta"]
    assert len(deltas) > 5 and "".join(deltas) == REPLY
    done_at = types.index("done")
    audio = [e for e in events[:done_at] if e["type"] == "audio_wav"]
    assert len(audio) >= 2  # one per sentence, before done
    samples, rate = decode_audio(base64.b64decode(audio[0]["wav_base64"]))
    assert rate == audio[0]["sr"] == 22050 and len(samples) > rate // 2
    # The first sentence was spoken while the model was still writing the rest.
    assert types.index("audio_wav") < max(i for i, t in enumerate(types) if t == "text_delta")
    metrics = [e for e in events if e["type"] == "metrics"][-1]["timings_ms"]
    assert {"asr", "llm_ttfb", "tts_first_audio", "total"} <= set(metrics)
    assert events[done_at]["text"] == REPLY
    assert {"asr", "tts_first_audio", "total"} <= set(events[done_at]["metrics"])
    assert types[-1] == "status" and events[-1]["stage"] == "idle"

    conversation = await Conversation.objects.aget(pk=conversation_id)
    messages = [m async for m in Message.objects.filter(conversation=conversation).order_by("created_at")]
    assert [m.role for m in messages] == ["user", "assistant"]
    assert words(messages[0].content) == words(QUESTION) and messages[0].asr_ms is not None
    assert messages[1].content == REPLY and messages[1].tts_first_audio_ms is not None
    assert conversation.last_tts_first_audio_ms == messages[1].tts_first_audio_ms


async def test_cancel_interrupts_the_turn_and_its_audio(voice_bot, staff_user, openai_double, question_pcm16):
    long_reply = " ".join(f"Sentence number {n} is here." for n in range(1, 40))
    openai_double.queue_text(long_reply, token_delay_s=0.05)
    ws = await _connect(voice_bot, staff_user)
    await _send(ws, type="start", req_id="r1")
    started = await _events_until(ws, "recording")
    await _speak(ws, question_pcm16)
    await _send(ws, type="stop", req_id="r1")
    while json.loads(await ws.receive_from(timeout=60))["type"] != "audio_wav":
        pass
    await _send(ws, type="cancel", req_id="r1")
    events = await _events_until(ws)
    done = next(e for e in events if e["type"] == "done")
    assert done["interrupted"] is True and done["text"] and done["text"] != long_reply
    assert await ws.receive_nothing(timeout=1.0)  # no audio after the cancel
    # The socket is still usable: a typed turn right after works.
    openai_double.queue_text("Yes.")
    await _send(ws, type="chat", req_id="r2", text="Are you there?", speak=False, conversation_id=started[0]["id"])
    after = await _events_until(ws)
    assert next(e for e in after if e["type"] == "done")["text"] == "Yes."
    await ws.disconnect()

    assistant = await Message.objects.filter(conversation_id=started[0]["id"], role="assistant").afirst()
    assert assistant.interrupted and long_reply.startswith(assistant.content.strip()[:20])


async def test_server_side_vad_ends_the_utterance_without_stop(
    voice_bot, staff_user, openai_double, question_pcm16, monkeypatch
):
    """Hands-free: the turn detector ends the turn and the turn starts on the detector's own
    transcript of the pause; the audio that ends in that silence is decoded once, not twice."""
    model = await sync_to_async(load_asr)(spec_for_bot(voice_bot))
    decoded_to_a_pause = []
    transcribe = model.transcribe

    def counting(samples, **kwargs):
        if np.abs(samples[-1600:]).max() < 0.01:  # ends in 100 ms of quiet: a pause decode, not a partial
            decoded_to_a_pause.append(len(samples))
        return transcribe(samples, **kwargs)

    monkeypatch.setattr(model, "transcribe", counting)
    openai_double.queue_text("It opens at nine.")
    ws = await _connect(voice_bot, staff_user)
    await _send(ws, type="start", req_id="v1", vad=True)
    await _events_until(ws, "recording")
    # the question, then 2.5 s of silence: the end of turn comes ~200 ms after a sentence judged
    # finished, at the latest after VOICEBOT_TURN_MAX_SILENCE_MS (2 s)
    await _speak(ws, question_pcm16 + b"\x00\x00" * 40000)
    events = await _events_until(ws)
    assert words(next(e for e in events if e["type"] == "asr")["text"]) == words(QUESTION)
    assert any(e["type"] == "audio_wav" for e in events)
    assert next(e for e in events if e["type"] == "done")["metrics"]["asr_reused"] == 1
    assert len(decoded_to_a_pause) == 1
    await ws.disconnect()


async def test_a_chat_message_is_answered_and_spoken(voice_bot, staff_user, openai_double):
    openai_double.queue_text("Hello there. Nice to meet you.")
    ws = await _connect(voice_bot, staff_user)
    await _send(ws, type="chat", req_id=7, text="Hi")
    events = await _events_until(ws)
    types = [e["type"] for e in events]
    assert types[0] == "conversation" and "text_delta" in types
    assert types.count("audio_wav") == 2
    assert events[types.index("done")]["text"] == "Hello there. Nice to meet you."
    await ws.disconnect()


async def test_init_creates_a_conversation_and_speaks_the_greeting(voice_bot, staff_user):
    ws = await _connect(voice_bot, staff_user)
    await _send(ws, type="init", req_id="g")
    events = await _events_until(ws)
    types = [e["type"] for e in events]
    assert types[:2] == ["status", "conversation"] and events[0]["stage"] == "init"
    assert "audio_wav" in types and events[types.index("done")]["text"] == "Welcome to the shop."
    await ws.disconnect()


async def test_partial_transcripts_arrive_while_speaking_and_stop_reuses_the_pause_decode(
    voice_bot, staff_user, openai_double, question_pcm16
):
    openai_double.queue_text("It opens at nine.")
    ws = await _connect(voice_bot, staff_user)
    await _send(ws, type="start", req_id="p1")
    await _events_until(ws, "recording")
    partials = []

    async def next_partial() -> dict:
        event = json.loads(await ws.receive_from(timeout=60))
        assert event["type"] == "asr_partial" and event["req_id"] == "p1"
        partials.append(event)
        return event

    cut = len(question_pcm16) * 6 // 10 // FRAME * FRAME  # mid-sentence
    await _speak(ws, question_pcm16[:cut])
    await next_partial()  # the words so far, before the sentence is complete
    await _speak(ws, question_pcm16[cut:])  # the rest, then 300 ms of silence: the pause decode
    while words((await next_partial())["text"]) != words(QUESTION):
        pass
    await _send(ws, type="stop", req_id="p1")
    events = await _events_until(ws)
    await ws.disconnect()
    final = next(e for e in events if e["type"] == "asr")
    assert len(partials) >= 2 and words(final["text"]) == words(QUESTION)
    assert len(words(partials[0]["text"])) < len(words(QUESTION))  # seen before the sentence was complete
    assert all(p["text"].startswith(p["stable"]) for p in partials)
    done = next(e for e in events if e["type"] == "done")
    assert done["metrics"]["asr_reused"] == 1  # the 300 ms of trailing silence had a pause decode
