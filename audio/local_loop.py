"""The local voice loop behind `manage.py voicebot_run`: audio in → VAD → voice turn → audio out.

Sources and sinks are small classes so the same loop runs on a microphone and speakers or on WAV
files (tests and machines without a sound card). Conversations are stored like every other one,
tools included, with the bot's greeting first. Without barge-in the loop is half-duplex (the mic is
ignored while the bot speaks, plus VOICEBOT_TTS_MIC_RELEASE_MS). With barge-in (and a live source),
the mic frames heard while the bot speaks, and while its echo can still come back, go through
`audio.echo`'s guard instead of the VAD: the sink reports each chunk as it starts playing
(`on_played`), the guard learns the echo path on the mic's sample clock, and only its `BargeIn` (the
user louder than the predicted echo) cancels the turn, stops playback and keeps the reply as far as
it was played (stored interrupted); the speech that set it off then goes to the VAD as a new turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import soundfile as sf
from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone

from audio import pipeline
from audio.devices import AudioDeviceError, sounddevice
from audio.echo import BargeInListener
from audio.pcm import ASR_SAMPLE_RATE, decode_audio, float32_to_pcm16, pcm16_to_float32, resample
from audio.turn_detector import pause_transcriber, segmenter_from_settings
from audio.vad import Utterance
from conversations import services as conversation_services
from conversations.engine.events import Audio, Done, Error, Event, TextDelta, ToolCall, Transcript
from conversations.session import ConversationSession

logger = logging.getLogger(__name__)
FRAME_MS = 30
FRAME_SAMPLES = ASR_SAMPLE_RATE * FRAME_MS // 1000
# A sink calls `on_played(samples, rate, text)` when a chunk starts playing (any thread); barge-in sets it.
OnPlayed = Callable[[np.ndarray, int, str], None]


class WavSource:
    """A WAV file (any rate/channels), as 30 ms PCM16 frames at 16 kHz, then a second of silence so a
    final utterance ends. `sequential`: the loop finishes each turn before reading on."""

    sequential = True

    def __init__(self, path: Path) -> None:
        samples, rate = decode_audio(Path(path).read_bytes())
        self._pcm = float32_to_pcm16(resample(samples, rate, ASR_SAMPLE_RATE)) + b"\x00\x00" * ASR_SAMPLE_RATE

    async def frames(self) -> AsyncIterator[bytes]:
        step = FRAME_SAMPLES * 2
        for i in range(0, len(self._pcm), step):
            yield self._pcm[i : i + step]
            await asyncio.sleep(0)

    def drain(self) -> None:
        pass


class MicSource:
    """The microphone at 16 kHz mono PCM16, 30 ms blocks; at most 200 frames (6 s) are queued."""

    sequential = False

    def __init__(self, device: int | None) -> None:
        self._sd = sounddevice()
        self._device = device
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=200)

    async def frames(self) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()

        def put(data: bytes) -> None:
            with contextlib.suppress(asyncio.QueueFull):  # a stalled loop drops audio, never blocks PortAudio
                self._queue.put_nowait(data)

        def callback(indata, frames, time_info, status) -> None:  # PortAudio thread
            loop.call_soon_threadsafe(put, bytes(indata))

        try:
            stream = self._sd.RawInputStream(
                samplerate=ASR_SAMPLE_RATE,
                channels=1,
                dtype="int16",
                blocksize=FRAME_SAMPLES,
                device=self._device,
                callback=callback,
            )
        except self._sd.PortAudioError as exc:
            raise AudioDeviceError(f"Cannot open the microphone: {exc} (see manage.py voicebot_devices)") from exc
        with stream:
            while True:
                yield await self._queue.get()

    def drain(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()


class WavSink:
    """Collects every spoken chunk into one WAV (at the first chunk's rate) written by `close`."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.rate: int | None = None
        self._chunks: list[np.ndarray] = []
        self.on_played: OnPlayed | None = None

    def play(self, audio: Audio) -> None:
        samples, rate = decode_audio(audio.wav)
        if self.on_played is not None:
            self.on_played(samples, rate, audio.text)
        self.rate = self.rate or rate
        self._chunks.append(resample(samples, rate, self.rate))

    def stop(self) -> None:
        pass

    async def wait_idle(self) -> None:
        pass

    def close(self) -> None:
        samples = np.concatenate(self._chunks) if self._chunks else np.zeros(0, dtype=np.float32)
        sf.write(self.path, samples, self.rate or 22050, subtype="PCM_16")


class SpeakerSink:
    """Plays chunks in order on a background thread; `stop` cuts playback (barge-in)."""

    def __init__(self, device: int | None) -> None:
        self._sd = sounddevice()
        self._device = device
        self.on_played: OnPlayed | None = None
        self._queue: queue.Queue[tuple[np.ndarray, int, str] | None] = queue.Queue()
        self._idle = threading.Event()
        self._idle.set()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="voicebot-speaker", daemon=True)
        self._thread.start()

    def play(self, audio: Audio) -> None:
        samples, rate = decode_audio(audio.wav)
        self._idle.clear()
        self._queue.put((samples, rate, audio.text))

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            samples, rate, text = item
            if not self._stopped.is_set():
                if self.on_played is not None:
                    self.on_played(samples, rate, text)
                try:
                    self._sd.play(samples, rate, device=self._device)
                    self._sd.wait()
                except self._sd.PortAudioError as exc:
                    logger.error("Cannot play audio: %s (see manage.py voicebot_devices)", exc)
            if self._queue.empty():
                self._idle.set()

    def stop(self) -> None:
        self._stopped.set()
        with contextlib.suppress(queue.Empty):
            while True:
                self._queue.get_nowait()
        self._sd.stop()
        self._idle.set()
        self._stopped.clear()

    async def wait_idle(self) -> None:
        await asyncio.to_thread(self._idle.wait)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)


@dataclass
class _Reply:
    """A reply being played: its chunks' starts on the mic clock and texts, and its stored message."""

    started_at: datetime
    chunks: list[tuple[float, str]] = field(default_factory=list)
    message_id: str = ""

    def heard_text(self, now: float) -> str:
        return " ".join(text for at, text in self.chunks if at <= now)


def print_event(event: Event, write: Callable[[str], None]) -> None:
    match event:
        case Transcript(text=text):
            write(f"you: {text}" if text else "(nothing recognised)")
        case ToolCall(name=name, arguments_json=arguments):
            write(f"[tool {name} {arguments}]")
        case Done(text=text, interrupted=interrupted, metrics=metrics):
            keys = ("asr", "llm_ttfb", "tts_first_audio", "voice_to_voice", "total")
            timings = {k: v for k, v in metrics.items() if k in keys}
            write(f"bot: {text}{' (interrupted)' if interrupted else ''}  {timings}")
        case Error(message=message):
            write(f"error: {message}")
        case TextDelta():
            pass


async def run_loop(
    *,
    bot,
    conversation,
    source,
    sink,
    greeting: bool = True,
    barge_in: bool = False,
    write: Callable[[str], None] = print,
    max_turns: int | None = None,
) -> int:
    """Run until the source ends (WAV) or forever (mic). Returns the number of voice turns run.

    Turns go through the conversation session like every other transport (its line, lock and error
    handling), so a Studio tab on the same conversation waits its turn instead of interleaving."""
    voice = await pipeline.Voice.for_bot(bot)
    await pipeline.warm_up(voice)
    session = ConversationSession(channel="cli")
    # Barge-in needs a live source (a sequential one is not read while the bot speaks).
    listener = BargeInListener() if barge_in and not source.sequential else None
    reply: _Reply | None = None

    async def consume(events: AsyncIterator[Event], playing: _Reply | None = None) -> None:
        async with contextlib.aclosing(events) as stream:  # a cancel (barge-in) closes the turn
            async for event in stream:
                if isinstance(event, Audio):
                    sink.play(event)
                else:
                    if isinstance(event, Done) and playing is not None:
                        playing.message_id = event.message_id
                    print_event(event, write)
        await sink.wait_idle()

    if listener is not None:
        loop, loop_thread = asyncio.get_running_loop(), threading.get_ident()

        def chunk_started(samples: np.ndarray, rate: int, text: str, playing: _Reply | None) -> None:
            if playing is not None and playing is reply:  # not the greeting, not a reply cut off since
                playing.chunks.append((listener.played(samples, rate), text))

        def on_played(samples: np.ndarray, rate: int, text: str) -> None:  # the sink; the speaker's thread
            if threading.get_ident() == loop_thread:
                chunk_started(samples, rate, text, reply)
            else:
                loop.call_soon_threadsafe(chunk_started, samples, rate, text, reply)

        sink.on_played = on_played

    if greeting:
        await consume(
            session.events(
                conversation.pk,
                lambda options: pipeline.greeting_turn(conversation, voice, speak=True, options=options),
            )
        )
    # Hands-free end of turn: Smart Turn + transcript cues (VOICEBOT_TURN_DETECTOR), or fixed silence.
    segmenter = segmenter_from_settings(transcribe=pause_transcriber(voice.asr, voice.language))
    turns = 0
    turn: asyncio.Task | None = None

    async def start_turn(utterance: Utterance) -> asyncio.Task:
        nonlocal turns, reply
        turns += 1
        reply = _Reply(started_at=timezone.now())
        samples, ended = pcm16_to_float32(utterance.pcm), time.perf_counter()
        events = session.events(
            conversation.pk,
            lambda options: pipeline.voice_turn(
                conversation,
                samples,
                voice,
                speak=True,
                speech_ended_at=ended,
                options=options,
                transcript=utterance.transcript,
            ),
        )
        return asyncio.create_task(consume(events, reply))

    async def interrupt(listener: BargeInListener) -> None:
        """The user talks over the bot: cancel the turn (the engine stores what it generated,
        interrupted), stop playback, and keep the stored reply to the chunks that began playing."""
        nonlocal turn, reply
        playing, running = reply, turn is not None and not turn.done()
        heard = playing.heard_text(listener.now) if playing is not None else ""
        if turn is not None:
            turn.cancel()
            sink.stop()
            with contextlib.suppress(asyncio.CancelledError):
                await turn
        turn, reply = None, None
        if running and playing is not None:
            write("(interrupted)")
            await sync_to_async(conversation_services.assistant_reply_heard)(
                conversation=conversation, text=heard, message_id=playing.message_id or None, since=playing.started_at
            )

    async def listen(frame: bytes) -> bytes:
        """Barge-in: what of `frame` goes to the VAD. While the bot speaks (or its echo may come back)
        the mic goes through the echo guard only; once it fires, the pre-roll goes to the VAD."""
        if turn is None and not listener.echoing:
            if listener.played_until is not None:
                listener.clear()  # the reply and its echo are over: the next one is learned anew
            listener.hear(frame, listen=False)
            return frame
        if not listener.hear(frame, listen=True):
            return b""
        await interrupt(listener)
        pcm = listener.take_preroll()
        listener.clear()
        segmenter.reset()
        return pcm

    async for frame in source.frames():
        if turn is not None and turn.done():
            turn = None
            if not barge_in:
                await asyncio.sleep(settings.VOICEBOT_TTS_MIC_RELEASE_MS / 1000)
                source.drain()
                segmenter.reset()
                continue
        if turn is not None and listener is None:
            continue  # half-duplex: the bot is speaking
        for event in segmenter.feed(await listen(frame) if listener is not None else frame):
            if isinstance(event, Utterance):
                turn = await start_turn(event)
                if source.sequential:
                    await turn
        if max_turns is not None and turns >= max_turns and (turn is None or turn.done()):
            break
    for event in segmenter.flush():
        if isinstance(event, Utterance):
            turn = await start_turn(event)
    if turn is not None:
        await turn
    return turns
