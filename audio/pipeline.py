"""The voice stage around the one engine: ASR before the turn, streaming TTS during it.

`voice_turn` transcribes an utterance (`streamed_voice_turn`: one transcribed while it was spoken,
`audio.streaming_asr`, with an optional early model call, `EarlyReply`), runs `conversations.engine.run_turn` and feeds the engine's
text deltas through the sentence chunker into TTS, so each sentence is synthesised and yielded as an
`Audio` event while the model is still writing the next one (the reference synthesised the whole
reply after the model finished). `speak_events` does the TTS part for any event stream (text turns
with `speak`, greetings). Every transport translates the events it gets and nothing else.

Timings added to the engine's (all ms):
- `asr`: transcription time (stored on the user message and the turn through TurnOptions),
- `tts_first_audio`: first sentence handed to TTS → its audio ready (synthesis latency),
- `tts_from_llm_start`: the turn's model call started → first audio ready,
- `voice_to_voice`: end of the user's speech → first audio ready (voice turns),
- `total`: end of speech (or turn start) → last audio ready.
`tts_first_audio` and `total` are stored on the assistant message through `message_record_timings`.

Cancelling the consuming task (barge-in, client gone) cancels the engine (which stores what was said,
marked interrupted) and stops synthesis: no Audio is yielded after the cancel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
from asgiref.sync import sync_to_async

from audio import asr, tts, turn_audio
from audio.chunker import SentenceChunker
from audio.streaming_asr import StreamingTranscriber
from conversations.engine.events import Audio, Done, Error, Event, Interim, Metrics, Status, TextDelta, Transcript
from conversations.engine.speculation import SpeculativeReply
from conversations.engine.turn import TurnOptions
from observability import observe

if TYPE_CHECKING:
    from bots.models import Bot
    from conversations.models import Conversation

_END = object()
logger = logging.getLogger(__name__)


def _ms(since: float, until: float | None = None) -> int:
    return int(round(((until if until is not None else time.perf_counter()) - since) * 1000))


@dataclass(frozen=True)
class Voice:
    """What a bot hears and speaks with, resolved once per turn (resolving may read the DB)."""

    asr: asr.AsrSpec
    language: str
    tts: tts.TtsSpec
    chunk_min_chars: int
    chunk_max_chars: int

    @classmethod
    def for_bot_sync(cls, bot: Bot) -> Voice:
        return cls(
            asr=asr.spec_for_bot(bot),
            language=bot.language,
            tts=tts.spec_for_bot(bot),
            chunk_min_chars=bot.tts_chunk_min_chars,
            chunk_max_chars=bot.tts_chunk_max_chars,
        )

    @classmethod
    async def for_bot(cls, bot: Bot) -> Voice:
        return await sync_to_async(cls.for_bot_sync, thread_sensitive=True)(bot)


async def _record_timings(message_id: str, timings: dict[str, int]) -> None:
    from conversations.services import message_record_timings

    if message_id and timings:
        await sync_to_async(message_record_timings)(message_id, **timings)


async def speak_events(
    source: AsyncIterator[Event],
    voice: Voice,
    *,
    speak: bool = True,
    started_at: float | None = None,
    speech_ended_at: float | None = None,
    extra_timings: dict[str, int] | None = None,
    keep_audio: bool = False,
) -> AsyncIterator[Event]:
    """Pass `source`'s events through, adding one `Audio` per chunk of spoken text as soon as it is
    synthesised, a final `Metrics` with the voice timings, and `Done` last (after the last audio).
    `keep_audio` (voice turns) stores the reply's audio on its message (`audio.turn_audio`)."""
    started_at = started_at if started_at is not None else time.perf_counter()
    out: asyncio.Queue = asyncio.Queue()
    texts: asyncio.Queue[str | None] = asyncio.Queue()
    chunker = SentenceChunker(voice.chunk_min_chars, voice.chunk_max_chars)
    reply_audio = turn_audio.ReplyAudio() if keep_audio else None
    state: dict = {"done": None, "timings": {}, "first_text_at": None, "first_audio_at": None, "tts_error": None}
    engine_started_at = time.perf_counter()

    def to_tts(text: str) -> None:
        if speak and text:
            if state["first_text_at"] is None:
                state["first_text_at"] = time.perf_counter()
            texts.put_nowait(text)

    async def produce() -> None:
        try:
            async for event in source:
                if isinstance(event, TextDelta):
                    for piece in chunker.push(event.delta):
                        to_tts(piece)
                elif isinstance(event, Interim):
                    to_tts(chunker.flush())  # what was said before the tool runs, then the interim
                    to_tts(event.text)
                elif isinstance(event, Done):
                    to_tts(chunker.flush())
                    state["done"] = event
                    continue  # held back until the audio is out
                if isinstance(event, Metrics):
                    event = Metrics({**(extra_timings or {}), **event.timings_ms})
                    state["timings"] = event.timings_ms
                await out.put(event)
            to_tts(chunker.flush())
        finally:
            texts.put_nowait(None)
            with contextlib.suppress(Exception):
                await source.aclose()  # type: ignore[attr-defined]

    async def synthesise() -> None:
        announced = False
        while (text := await texts.get()) is not None:
            if state["tts_error"]:
                continue
            try:
                with observe.tts_chunk(voice.tts.vendor, len(text)):  # span per synthesised chunk
                    audio = await tts.synthesize(voice.tts, text)
            except Exception as exc:  # a broken voice must not lose the text reply
                state["tts_error"] = str(exc)
                await out.put(Error(f"TTS failed: {exc}", code="tts_error"))
                continue
            if state["first_audio_at"] is None:
                state["first_audio_at"] = time.perf_counter()
            if not announced:
                announced = True
                await out.put(Status("tts"))
            if reply_audio is not None:
                reply_audio.add(audio)
            await out.put(audio)

    async def run_all() -> None:
        try:
            async with asyncio.TaskGroup() as group:  # one failing cancels the other
                group.create_task(produce())
                group.create_task(synthesise())
        except BaseExceptionGroup as group_error:
            raise group_error.exceptions[0] from None
        finally:
            out.put_nowait(_END)

    runner = asyncio.create_task(run_all())
    try:
        while (event := await out.get()) is not _END:
            yield event
        await runner  # re-raise an engine crash
    finally:
        if not runner.done():
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await runner

    done: Done | None = state["done"]
    if done is None:
        return
    timings = {**(extra_timings or {}), **state["timings"]}
    first_audio_at, first_text_at = state["first_audio_at"], state["first_text_at"]
    stored: dict[str, int] = {}
    if first_audio_at is not None and first_text_at is not None:
        timings["tts_first_audio"] = stored["tts_first_audio"] = _ms(first_text_at, first_audio_at)
        timings["tts_from_llm_start"] = _ms(engine_started_at, first_audio_at)
        if speech_ended_at is not None:
            timings["voice_to_voice"] = _ms(speech_ended_at, first_audio_at)
        observe.voice_timings(timings)  # tts_first_audio and voice_to_voice histograms
    timings["total"] = stored["total"] = _ms(speech_ended_at if speech_ended_at is not None else started_at)
    await _record_timings(done.message_id, stored)
    if reply_audio is not None:
        await reply_audio.store(done.message_id)
    yield Metrics(timings)
    yield Done(
        text=done.text, metrics={**done.metrics, **timings}, interrupted=done.interrupted, message_id=done.message_id
    )


async def warm_up(voice: Voice, *, speak: bool = True) -> None:
    """Load the bot's ASR model and voice ahead of its first turn (the reference loaded them inside the
    first request). Failures are left for the turn itself to report."""
    loads = [asyncio.to_thread(asr.load_asr, voice.asr)]
    if speak:
        loads.append(asyncio.to_thread(tts.load_tts, voice.tts))
    results = await asyncio.gather(*loads, return_exceptions=True)
    for result in results:
        if isinstance(result, Exception):
            logger.info("warm-up skipped: %s", result)


async def transcribe_utterance(voice: Voice, samples: np.ndarray) -> tuple[str, int]:
    started = time.perf_counter()
    with observe.asr(voice.asr.engine, len(samples) / 16000):  # span and ASR-time histogram
        result = await asr.transcribe(voice.asr, samples, voice.language)
    return result.text.strip(), _ms(started)


async def voice_turn(
    conversation: Conversation,
    samples: np.ndarray,
    voice: Voice,
    *,
    speak: bool = True,
    speech_ended_at: float | None = None,
    options: TurnOptions | None = None,
    transcript: str | None = None,
) -> AsyncIterator[Event]:
    """One spoken turn: 16 kHz float32 mono utterance → Transcript → the engine's events + Audio.

    `options` (debug flag, the session's lock token) reach the engine with the ASR timing added.
    `transcript`: these very samples were already transcribed (the turn detector's decode when it
    ended the turn, `vad.Utterance.transcript`), so the turn starts on it without decoding again."""
    ended = speech_ended_at if speech_ended_at is not None else time.perf_counter()
    yield Status("asr")
    extra = None
    if transcript is None:
        text, asr_ms = await transcribe_utterance(voice, samples)
    else:
        text, asr_ms, extra = transcript, 0, {"asr_decodes": 0, "asr_reused": 1}
    async for event in _turn_on_transcript(
        conversation, text, asr_ms, voice, speak, ended, options, None, extra, user_audio=samples
    ):
        yield event


async def streamed_voice_turn(
    conversation: Conversation,
    transcriber: StreamingTranscriber,
    voice: Voice,
    *,
    speak: bool = True,
    speech_ended_at: float | None = None,
    options: TurnOptions | None = None,
    early: EarlyReply | None = None,
    samples: np.ndarray | None = None,
    transcript: str | None = None,
) -> AsyncIterator[Event]:
    """A spoken turn whose audio was transcribed while it was spoken (`audio.streaming_asr`): only
    what no earlier decode covered is decoded now, nothing when the turn detector's `transcript`
    of the whole utterance is given. With `early`, a model call started on the pause transcript is
    adopted when the final transcript is the same text, else discarded unseen. `samples` (the whole
    utterance) is kept as the user's audio."""
    ended = speech_ended_at if speech_ended_at is not None else time.perf_counter()
    try:
        yield Status("asr")
        final = await (transcriber.adopt(transcript) if transcript is not None else transcriber.final())
        extra = {"asr_decodes": final.decodes, "asr_reused": int(final.reused)}
        async for event in _turn_on_transcript(
            conversation, final.text, final.asr_ms, voice, speak, ended, options, early, extra, user_audio=samples
        ):
            yield event
    finally:
        await transcriber.aclose()
        if early is not None:
            await early.discard()


async def _turn_on_transcript(
    conversation: Conversation,
    text: str,
    asr_ms: int,
    voice: Voice,
    speak: bool,
    ended: float,
    options: TurnOptions | None,
    early: EarlyReply | None,
    extra: dict[str, int] | None = None,
    *,
    user_audio: np.ndarray | None = None,
) -> AsyncIterator[Event]:
    from conversations.engine import run_turn

    yield Transcript(text)
    if not text:
        timings = {"asr": asr_ms, "total": _ms(ended)}
        yield Metrics(timings)
        yield Done(text="", metrics=timings)
        return
    extra_timings = {"asr": asr_ms, **(extra or {})}
    audio_fields = await turn_audio.user_audio_fields(conversation.pk, user_audio)
    options = replace(
        options or TurnOptions(),
        user_message_fields={**(options.user_message_fields if options else {}), "asr_ms": asr_ms, **audio_fields},
        extra_timings_ms={**(options.extra_timings_ms if options else {}), **extra_timings},
    )
    if early is not None:
        adopted = early.for_transcript(text)
        if adopted is not None:
            options.model_stream = adopted.model_stream
            extra_timings["llm_early"] = 1
    source = run_turn(conversation, text, options=options)
    async for event in speak_events(
        source, voice, speak=speak, speech_ended_at=ended, extra_timings=extra_timings, keep_audio=True
    ):
        yield event


class EarlyReply:
    """The speculative model call of one utterance: (re)started on each pause transcript, adopted
    by the turn when the final transcript matches, discarded otherwise (see
    `conversations.engine.speculation`: nothing is stored, nothing is spoken)."""

    def __init__(self, conversation_id: object) -> None:
        self.conversation_id = conversation_id
        self.current: SpeculativeReply | None = None
        self.offered: SpeculativeReply | None = None  # the one handed to the turn (adopted if it matched)
        self.started = 0
        self.discarded = 0

    async def on_pause(self, text: str) -> None:
        text = text.strip()
        if not text or (self.current is not None and self.current.user_text == text):
            return
        await self._drop()
        self.started += 1
        self.current = SpeculativeReply(self.conversation_id, text).start()

    def for_transcript(self, text: str) -> SpeculativeReply | None:
        current = self.current
        if current is not None and current.user_text == text.strip():
            self.offered = current
            return current
        return None

    async def _drop(self) -> None:
        if self.current is not None and not self.current.adopted:
            self.discarded += 1
            await self.current.discard()
        self.current = None

    async def discard(self) -> None:
        """End of the turn: a call that was not adopted is cancelled."""
        await self._drop()


async def text_turn(
    conversation: Conversation, text: str, voice: Voice | None, *, speak: bool, options: TurnOptions | None = None
) -> AsyncIterator[Event]:
    """A typed turn, spoken when `speak` (the talk socket's `chat`, REST chat with `speak`)."""
    from conversations.engine import run_turn

    source = run_turn(conversation, text, options=options)
    if not speak or voice is None:
        async for event in source:
            yield event
        return
    async for event in speak_events(source, voice, speak=True):
        yield event


async def greeting_turn(
    conversation: Conversation, voice: Voice | None, *, speak: bool, options: TurnOptions | None = None
) -> AsyncIterator[Event]:
    """The bot's greeting (static text or model-written), spoken when `speak`."""
    from conversations.engine import run_greeting

    source = run_greeting(conversation, options=options)
    if not speak or voice is None:
        async for event in source:
            yield event
        return
    async for event in speak_events(source, voice, speak=True):
        yield event


__all__ = [
    "Audio",
    "EarlyReply",
    "Voice",
    "greeting_turn",
    "speak_events",
    "streamed_voice_turn",
    "text_turn",
    "transcribe_utterance",
    "voice_turn",
    "warm_up",
]
