"""One phone call on the conversation session: caller audio → VAD → voice turns → paced μ-law out.

`PhoneCall` is what the Media Streams consumer drives once a verified stream has started; it knows
nothing of websockets (it gets a `send` for Twilio's JSON messages), so the consumer stays a parser.

- **In**: each 20 ms μ-law frame is decoded and resampled to 16 kHz (one soxr stream) and fed to the
  Studio's hands-free segmenter (`audio.turn_detector.segmenter_from_settings`: VAD, Smart Turn and
  transcript cues, in a worker thread); an utterance becomes `pipeline.voice_turn` through
  `ConversationSession.events` (the conversation's one lock and line, errors as `Error` events).
- **Out**: each synthesised WAV chunk becomes 20 ms μ-law `media` frames sent in real time (a small
  lead keeps Twilio's buffer from running dry), then a `mark` named after the reply and the chunk.
  Twilio echoes a mark when the audio before it has played, so the marks that came back say which
  chunks the caller actually heard.
- **Barge-in**: while the bot speaks (a turn running, audio not yet heard, or its echo still able to
  come back) the caller's audio goes through `audio.echo`'s guard, not the VAD: the guard gets every
  frame sent, placed on the caller's sample clock (`_echo_offset` maps the send schedule `_clock`
  onto it, once per run of audio), learns the line's echo, and only its `BargeIn` (the caller louder
  than the predicted echo of the bot) counts. Then the call sends `clear`, cancels the turn (the
  engine stores what it generated, interrupted) and narrows that stored reply to the chunks whose
  marks came back (`conversations.services.assistant_reply_heard`). Marks of a cleared reply are
  ignored (Twilio sends back the pending ones on `clear`). The caller's last 600 ms then go to the
  VAD, so what they are saying becomes the next turn.
- **End** (`stop` or the socket closing): the turn is cancelled, a reply still playing is narrowed to
  what was heard, and the call's end and duration go into the conversation's metadata.

Chunk texts: each `Audio` event carries the text it says, so what was heard is the text of the chunks
whose marks came back.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone

from audio import pipeline
from audio.echo import BargeInListener
from audio.pcm import pcm16_to_float32
from audio.turn_detector import pause_transcriber, segmenter_from_settings
from audio.vad import Utterance, VadParams, VadSegmenter
from conversations import services as conversation_services
from conversations.engine.events import Audio, Done, Error
from conversations.models import Conversation
from conversations.session import ConversationSession
from telephony import services
from telephony.media import FRAME_MS, PHONE_SAMPLE_RATE, CallerAudio, ulaw_to_pcm16, wav_to_ulaw_frames

logger = logging.getLogger(__name__)
Send = Callable[[dict[str, Any]], Awaitable[None]]
FRAME_S = FRAME_MS / 1000
LEAD_S = 0.06  # audio sent ahead of real time, so network jitter never starves the caller's buffer
MAX_PAYLOAD_CHARS = 4096  # a 20 ms frame is 216 base64 characters; Twilio never sends more than this


@dataclass
class Reply:
    """One bot reply being played: its marks not yet echoed and the texts the caller has heard."""

    generation: int
    started_at: datetime
    pending: dict[str, str] = field(default_factory=dict)  # mark name → chunk text
    heard: list[str] = field(default_factory=list)
    chunks: int = 0
    message_id: str = ""
    narrowed: bool = False

    @property
    def heard_text(self) -> str:
        return " ".join(self.heard)


class CallRecording:
    """Caller (left) and bot (right) at 8 kHz, written as the call goes (only when the line records)."""

    def __init__(self, path: Path) -> None:
        import soundfile as sf

        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file = sf.SoundFile(path, "w", samplerate=PHONE_SAMPLE_RATE, channels=2, subtype="PCM_16")
        self._bot = bytearray()
        self._blocks: list[np.ndarray] = []

    def bot_played(self, pcm: bytes) -> None:
        self._bot.extend(pcm)

    def bot_cleared(self) -> None:
        self._bot.clear()

    async def caller_frame(self, pcm: bytes) -> None:
        size = len(pcm)
        bot, self._bot[:size] = bytes(self._bot[:size]).ljust(size, b"\x00"), b""
        left = np.frombuffer(pcm, dtype="<i2")
        right = np.frombuffer(bot, dtype="<i2")
        self._blocks.append(np.stack([left, right], axis=1))
        if len(self._blocks) >= 50:  # one second per write, off the event loop
            await self._flush()

    async def _flush(self) -> None:
        blocks, self._blocks = self._blocks, []
        if blocks:
            await asyncio.to_thread(self._file.write, np.concatenate(blocks))

    async def close(self) -> None:
        await self._flush()
        await asyncio.to_thread(self._file.close)


class PhoneCall:
    def __init__(
        self,
        *,
        send: Send,
        conversation: Conversation,
        voice: pipeline.Voice,
        stream_sid: str,
        record_to: Path | None = None,
        vad_params: VadParams | None = None,
    ) -> None:
        self._send = send
        self.conversation = conversation
        self.voice = voice
        self.stream_sid = stream_sid
        self.session = ConversationSession(channel="phone")
        self._caller = CallerAudio()
        # Hands-free end of turn as on the Studio socket and voicebot_run: VAD plus Smart Turn plus
        # transcript cues (VOICEBOT_TURN_DETECTOR), or a fixed silence when asked for.
        self._vad = (
            VadSegmenter(vad_params)
            if vad_params is not None
            else segmenter_from_settings(transcribe=pause_transcriber(voice.asr, voice.language))
        )
        self._started = time.monotonic()
        self._generation = 0
        self._reply: Reply | None = None
        self._turn: asyncio.Task | None = None
        self._out: asyncio.Queue[tuple[int, str, Any]] = asyncio.Queue()
        self._player = asyncio.create_task(self._play())
        self._clock = 0.0
        # The caller's sample clock, what the bot sent placed on it, and the echo guard's barge-in.
        self._listener = BargeInListener()
        self._echo_offset = 0.0  # loop time minus the caller's clock, for the audio being sent
        self._digits = ""
        self._ended = False
        self._recording = CallRecording(record_to) if record_to is not None else None

    # --- state -------------------------------------------------------------------------------------
    @property
    def speaking(self) -> bool:
        """The bot holds the floor: a turn runs, or audio the caller has not heard yet is out."""
        turn_running = self._turn is not None and not self._turn.done()
        return turn_running or bool(self._reply and self._reply.pending) or not self._out.empty()

    # --- from the caller ---------------------------------------------------------------------------
    async def greet(self) -> None:
        conversation, voice = self.conversation, self.voice
        self._start_turn(lambda options: pipeline.greeting_turn(conversation, voice, speak=True, options=options))

    async def media(self, payload: Any) -> None:
        if not isinstance(payload, str) or len(payload) > MAX_PAYLOAD_CHARS:
            return
        try:
            ulaw = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            return
        pcm8, pcm16 = self._caller.feed(ulaw)
        if self._recording is not None:
            await self._recording.caller_frame(pcm8)
        listener = self._listener
        if self.speaking or listener.echoing:  # the echo guard listens, not the VAD
            if not listener.hear(pcm16, listen=True):
                return
            pcm16 = listener.take_preroll()  # what the caller is saying goes to the VAD
            await self.barge_in()  # clears the listener
            self._vad.reset()
        else:
            if listener.played_until is not None:
                listener.clear()  # the reply and its echo are over: the next one is learned anew
            listener.hear(pcm16, listen=False)
        for event in await asyncio.to_thread(self._vad.feed, pcm16):  # VAD/end-of-turn models off the loop
            if isinstance(event, Utterance):
                await self._start_voice_turn(event)

    async def dtmf(self, digit: Any) -> None:
        if not isinstance(digit, str) or len(digit) != 1 or digit not in "0123456789*#ABCD":
            return
        self._digits = (self._digits + digit)[-64:]
        await sync_to_async(services.phone_call_dtmf)(conversation=self.conversation, digits=self._digits)

    def mark(self, name: Any) -> None:
        reply = self._reply
        if reply is None or not isinstance(name, str):
            return
        text = reply.pending.pop(name, None)  # a cleared reply's marks are not in `pending` any more
        if text is not None:
            reply.heard.append(text)

    # --- turns -------------------------------------------------------------------------------------
    async def _start_voice_turn(self, utterance: Utterance) -> None:
        samples, ended = pcm16_to_float32(utterance.pcm), time.perf_counter()
        if self.speaking:  # the caller spoke before the bot began (no SpeechStarted while it spoke)
            await self.barge_in()
        conversation, voice, transcript = self.conversation, self.voice, utterance.transcript
        self._start_turn(
            lambda options: pipeline.voice_turn(
                conversation, samples, voice, speak=True, speech_ended_at=ended, options=options, transcript=transcript
            )
        )

    def _start_turn(self, factory) -> None:
        self._generation += 1
        self._reply = Reply(generation=self._generation, started_at=timezone.now())
        self._turn = asyncio.create_task(self._run_turn(self._reply, factory))

    async def _run_turn(self, reply: Reply, factory) -> None:
        events = self.session.events(self.conversation.pk, factory)
        async with contextlib.aclosing(events) as stream:
            async for event in stream:
                if isinstance(event, Audio):
                    frames = await asyncio.to_thread(wav_to_ulaw_frames, event.wav)
                    self._enqueue(reply, frames, event.text)
                elif isinstance(event, Done):
                    reply.message_id = event.message_id
                elif isinstance(event, Error):
                    logger.warning("phone turn error in %s: %s", self.conversation.pk, event.message)

    def _enqueue(self, reply: Reply, frames: list[bytes], text: str) -> None:
        if reply.generation != self._generation:
            return
        reply.chunks += 1
        name = f"r{reply.generation}c{reply.chunks}"
        reply.pending[name] = text
        self._out.put_nowait((reply.generation, "media", frames))
        self._out.put_nowait((reply.generation, "mark", name))

    # --- out to the caller -------------------------------------------------------------------------
    async def _play(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            generation, kind, data = await self._out.get()
            if generation != self._generation:
                continue  # cleared
            if kind == "mark":
                await self._send({"event": "mark", "streamSid": self.stream_sid, "mark": {"name": data}})
                continue
            for frame in data:
                now = loop.time()
                if now > self._clock:  # nothing left to play at Twilio: this audio starts now
                    self._clock = now
                    self._echo_offset = now - self._listener.now
                if self._clock - now > LEAD_S:
                    await asyncio.sleep(self._clock - now - LEAD_S)
                if generation != self._generation:
                    break
                payload = base64.b64encode(frame).decode("ascii")
                await self._send({"event": "media", "streamSid": self.stream_sid, "media": {"payload": payload}})
                pcm = ulaw_to_pcm16(frame)
                self._listener.played(pcm16_to_float32(pcm), PHONE_SAMPLE_RATE, at=self._clock - self._echo_offset)
                self._clock += FRAME_S
                if self._recording is not None:
                    self._recording.bot_played(pcm)

    def _drop_queued_audio(self) -> None:
        self._generation += 1
        while not self._out.empty():
            self._out.get_nowait()
        self._clock = 0.0
        if self._recording is not None:
            self._recording.bot_cleared()

    # --- barge-in and end --------------------------------------------------------------------------
    async def barge_in(self) -> None:
        """The caller talks over the bot: clear Twilio's buffer, stop the turn, keep what was heard."""
        reply = self._reply
        self._drop_queued_audio()
        await self._send({"event": "clear", "streamSid": self.stream_sid})
        self._listener.clear()
        await self._stop_turn(reply)

    async def _stop_turn(self, reply: Reply | None) -> None:
        turn, self._turn = self._turn, None
        was_running = turn is not None and not turn.done()
        if turn is not None:
            turn.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await turn
        if reply is not None and not reply.narrowed and (was_running or reply.pending):
            reply.narrowed = True
            reply.pending.clear()
            await sync_to_async(conversation_services.assistant_reply_heard)(
                conversation=self.conversation,
                text=reply.heard_text,
                message_id=reply.message_id or None,
                since=reply.started_at,
            )

    async def end(self, reason: str) -> None:
        """`stop` or the socket closed: cancel the turn, keep what was heard, record the call's end."""
        if self._ended:
            return
        self._ended = True
        reply = self._reply
        self._drop_queued_audio()
        self._player.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._player
        await self._stop_turn(reply)
        await self.session.close()
        recording = ""
        if self._recording is not None:
            await self._recording.close()
            recording = str(self._recording.path.relative_to(Path(settings.MEDIA_ROOT)))
        await sync_to_async(services.phone_call_end)(
            conversation=self.conversation,
            duration_s=time.monotonic() - self._started,
            reason=reason,
            recording=recording,
        )


def recording_path(conversation: Conversation) -> Path:
    """Where a recorded call goes: named by the conversation's id, never by anything the caller sent."""
    return Path(settings.MEDIA_ROOT) / services.call_recording_name(conversation.pk)
