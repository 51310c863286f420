"""The early (speculative) model call: adopted when the final transcript is the one it started on,
otherwise discarded, and then never spoken and never stored."""

from __future__ import annotations

import asyncio

import pytest

from audio import pipeline
from audio.streaming_asr import StreamingTranscriber
from conversations.engine.events import Audio, Done, TextDelta, Transcript
from conversations.models import Message
from conversations.services import conversation_start
from tests.audio.conftest import QUESTION, words

pytestmark = [pytest.mark.voice, pytest.mark.django_db(transaction=True)]
EARLY = "EARLY REPLY that must never be heard."
REPLY = "It opens at nine."


async def _transcribed(voice: pipeline.Voice, pcm: bytes, on_pause=None) -> StreamingTranscriber:
    transcriber = StreamingTranscriber(voice.asr, voice.language, on_pause=on_pause)
    for i in range(0, len(pcm), 6400):
        transcriber.push(pcm[i : i + 6400])
        await transcriber.idle()
    return transcriber


async def _turn(conversation, transcriber, voice, early) -> list:
    return [
        event async for event in pipeline.streamed_voice_turn(conversation, transcriber, voice, speak=True, early=early)
    ]


async def _until(condition, timeout: float = 20.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


async def test_a_discarded_early_reply_is_never_spoken_and_never_stored(voice_bot, openai_double, question_pcm16):
    openai_double.queue_text(EARLY, ttft_s=0.05)  # the early call takes this one
    openai_double.queue_text(REPLY)
    conversation = await asyncio.to_thread(conversation_start, bot=voice_bot)
    voice = await pipeline.Voice.for_bot(voice_bot)
    early = pipeline.EarlyReply(conversation.pk)
    await early.on_pause("What time does the store close")  # the user then went on: a different transcript
    await _until(lambda: len(openai_double.requests) == 1)
    transcriber = await _transcribed(voice, question_pcm16)
    events = await _turn(conversation, transcriber, voice, early)

    assert words(next(e.text for e in events if isinstance(e, Transcript))) == words(QUESTION)
    said = "".join(e.delta for e in events if isinstance(e, TextDelta))
    assert said == REPLY and next(e for e in events if isinstance(e, Done)).text == REPLY
    assert len([e for e in events if isinstance(e, Audio)]) == 1  # one sentence spoken: the real reply
    assert early.discarded == 1 and len(openai_double.requests) == 2
    stored = [
        (m.role, m.content) async for m in Message.objects.filter(conversation=conversation).order_by("created_at")
    ]
    assert [role for role, _ in stored] == ["user", "assistant"]
    assert words(stored[0][1]) == words(QUESTION) and stored[1][1] == REPLY
    assert not any("EARLY" in content for _, content in stored)


async def test_an_early_reply_on_the_final_transcript_is_adopted_not_asked_twice(
    voice_bot, openai_double, question_pcm16
):
    openai_double.queue_text(REPLY, ttft_s=0.05)
    conversation = await asyncio.to_thread(conversation_start, bot=voice_bot)
    voice = await pipeline.Voice.for_bot(voice_bot)
    early = pipeline.EarlyReply(conversation.pk)
    transcriber = await _transcribed(voice, question_pcm16, on_pause=early.on_pause)  # speech then 300 ms silence
    await _until(lambda: early.current is not None)
    events = await _turn(conversation, transcriber, voice, early)

    assert early.started == 1 and early.offered.adopted and len(openai_double.requests) == 1
    done = next(e for e in events if isinstance(e, Done))
    assert done.text == REPLY and done.metrics.get("llm_early") == 1
    stored = [m.role async for m in Message.objects.filter(conversation=conversation)]
    assert sorted(stored) == ["assistant", "user"]
