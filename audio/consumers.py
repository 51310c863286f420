"""Studio talk socket `WS /ws/bots/<uuid>/talk`: the reference's protocol (§3.1) plus `cancel`, as a
thin adapter on the conversation session.

Client → server: `init`, `start` (then binary PCM16 frames), `stop`, `chat`, `cancel` (JSON text
frames, each with `req_id`; `init`/`start`/`chat` take `speak`, `test_flag` and `debug` as in the
reference). Server → client: the engine's events in their wire shape with `req_id` added, `done` last
(with `metrics`), then `status idle`. Messages sent while a turn runs wait in line and are answered
in order (`conversations.session`); over the line's bound they get a clear error. Mistakes are
answered with `{"type":"error","error":...}` and the socket stays open.

The consumer parses (bounded: `conversations.frames.parse_request`), authorises (staff session, close
4401/4403 after an error event), keeps the recording buffer, and hands turns to the session with the
voice pipeline as the event factory; no business rules live here.

While a recording is open its audio is transcribed as it arrives (`audio.streaming_asr`): the socket
sends `asr_partial` events (`text`, and `stable`: the words two decodes agreed on), a decode runs at
the first short pause, and `stop` only decodes what no earlier decode covered. With `vad: true` the
turn detector (`audio.turn_detector`) decodes each pause itself and the turn starts on its transcript
(one decode per pause, not two). With VOICEBOT_EARLY_REPLY the model call starts on the pause
transcript and is adopted by the turn only if that transcript is the final one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import soxr
from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from audio import pipeline
from audio.pcm import ASR_SAMPLE_RATE, Pcm16Buffer, float32_to_pcm16, pcm16_to_float32
from audio.services import bot_get
from audio.streaming_asr import StreamingTranscriber
from audio.turn_detector import pause_transcriber, segmenter_from_settings
from audio.vad import Pause, Utterance, VadEvent
from conversations import frames
from conversations.engine import TurnOptions
from conversations.engine.events import ConversationStarted, Status
from conversations.services import ConversationLookupError, conversation_for_bot
from conversations.session import STUDIO_POLICY, ConversationSession
from observability import observe

log = logging.getLogger(__name__)
ALLOWED_SAMPLE_RATES = (8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000)
KINDS = ("init", "start", "stop", "chat", "cancel")
MAX_FRAME_BYTES = 65536


class BadMessage(ValueError):
    """A client message we refuse; the text is sent back as the error."""


@dataclass
class Recording:
    """An open `start`: PCM16 frames collected (and optionally endpointed by VAD) until `stop`."""

    req_id: Any
    conversation: Any
    speak: bool
    options: TurnOptions
    sample_rate: int
    buffer: Pcm16Buffer
    vad: Any = None  # VadSegmenter or audio.turn_detector.TurnSegmenter (same interface)
    resampler: Any = None
    audio16k: bytearray = field(default_factory=bytearray)
    received: int = 0
    over_limit: bool = False
    ended: bool = False  # handed to the session (by VAD or `stop`)
    transcriber: StreamingTranscriber | None = None
    early: pipeline.EarlyReply | None = None
    streamed: int = 0  # bytes of audio16k handed to the transcriber

    def stream_new_audio(self) -> None:
        """Hand the audio that arrived since the last call to the transcriber (on the event loop)."""
        if self.transcriber is not None and not self.ended and len(self.audio16k) > self.streamed:
            self.transcriber.push(bytes(self.audio16k[self.streamed :]))
            self.streamed = len(self.audio16k)

    async def aclose(self) -> None:
        """Dropped without a turn (cancel, disconnect): stop decoding, cancel an early model call."""
        if self.transcriber is not None:
            await self.transcriber.aclose()
        if self.early is not None:
            await self.early.discard()

    def add(self, chunk: bytes) -> list[VadEvent]:
        """Store a frame; return the pauses and utterances VAD found in it (empty without VAD)."""
        self.buffer.append(chunk)
        pcm = self.buffer.take_even()  # a dangling odd byte waits for the next frame
        if self.resampler is not None:
            pcm = float32_to_pcm16(self.resampler.resample_chunk(pcm16_to_float32(pcm)))
        self.audio16k.extend(pcm)
        if self.vad is None:
            return []
        return [e for e in self.vad.feed(pcm) if isinstance(e, Pause | Utterance)]

    def finish(self) -> np.ndarray:
        """All audio so far as 16 kHz float32 (a final half sample is dropped)."""
        self.buffer.clear()
        samples = pcm16_to_float32(bytes(self.audio16k))
        if self.resampler is not None:
            tail = self.resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
            samples = np.concatenate([samples, tail])
        return samples


def _bool(message: dict, key: str, default: bool) -> bool:
    value = message.get(key, default)
    if not isinstance(value, bool):
        raise BadMessage(f"{key} must be true or false")
    return value


def _optional_str(message: dict, key: str) -> str | None:
    value = message.get(key)
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise BadMessage(f"{key} must be a string")
    return value


def _flags(message: dict) -> tuple[bool, bool, TurnOptions]:
    """(speak, test_flag, options with debug): the reference's per-request toggles."""
    return (
        _bool(message, "speak", True),
        _bool(message, "test_flag", True),
        TurnOptions(debug=_bool(message, "debug", False)),
    )


class TalkConsumer(AsyncWebsocketConsumer):
    session: ConversationSession | None = None
    counted: str | None = None  # the open-sockets gauge's kind, once accepted

    async def connect(self) -> None:
        await self.accept()
        self.counted = observe.socket_opened("talk")
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self._send({"type": "error", "error": "Authentication required"})
            await self.close(code=4401)
            return
        if not user.is_staff:
            await self._send({"type": "error", "error": "Staff access required"})
            await self.close(code=4403)
            return
        self.bot = await sync_to_async(bot_get)(self.scope["url_route"]["kwargs"]["bot_id"])
        if self.bot is None:
            await self._send({"type": "error", "error": "Bot not found"})
            await self.close(code=4404)
            return
        self.recording: Recording | None = None
        self.session = ConversationSession(self._send, policy=STUDIO_POLICY, channel="studio")
        self.warm_up = asyncio.create_task(self._warm_up())

    async def _warm_up(self) -> None:
        try:
            await pipeline.warm_up(await self._voice())
        except Exception:  # the first turn reports a broken voice itself
            pass

    async def disconnect(self, code: int) -> None:
        observe.socket_closed(self.counted)
        self.counted = None
        warm_up = getattr(self, "warm_up", None)
        if warm_up is not None and not warm_up.done():
            warm_up.cancel()
        if self.session is not None:
            await self.session.close()  # a running turn stores what was said, marked interrupted
        recording = getattr(self, "recording", None)
        if recording is not None and not recording.ended:
            await recording.aclose()

    # --- frames ----------------------------------------------------------------------------------
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.session is None:
            return
        if bytes_data is not None:
            await self._audio_frame(bytes_data)
            return
        try:
            kind, req_id, message = frames.parse_request(text_data, kinds=KINDS, max_bytes=MAX_FRAME_BYTES)
        except frames.FrameError as exc:
            error = {"type": "error", "error": exc.message, "code": exc.code}
            await self._send({**error, "req_id": exc.req_id} if exc.req_id is not None else error)
            return
        handler = {
            "init": self._init,
            "start": self._start,
            "stop": self._stop,
            "chat": self._chat,
            "cancel": self._cancel,
        }[kind]
        try:
            await handler(message, req_id)
        except (BadMessage, ConversationLookupError) as exc:
            await self._send({"type": "error", "error": str(exc), "req_id": req_id})

    async def _audio_frame(self, chunk: bytes) -> None:
        recording = self.recording
        if recording is None or recording.ended:
            return  # frames outside a recording are ignored, as in the reference
        if recording.over_limit:
            return
        if recording.received + len(chunk) > settings.VOICEBOT_MAX_UTTERANCE_BYTES:
            recording.over_limit = True
            limit = settings.VOICEBOT_MAX_UTTERANCE_BYTES
            await self._send(
                {
                    "type": "error",
                    "error": f"Utterance too long: at most {limit} bytes of audio; later audio is ignored",
                    "code": "utterance_too_long",
                    "req_id": recording.req_id,
                }
            )
            return
        recording.received += len(chunk)
        events = await asyncio.to_thread(recording.add, chunk)  # resampling/VAD/turn detector off the loop
        recording.stream_new_audio()
        for event in events:
            if recording.ended:
                break
            if isinstance(event, Utterance):
                samples = pcm16_to_float32(event.pcm)
                self._submit_voice_turn(recording, samples, time.perf_counter(), transcript=event.transcript)
            elif event.transcript and recording.early is not None:
                await recording.early.on_pause(event.transcript)  # the detector's pause decode

    # --- requests --------------------------------------------------------------------------------
    async def _conversation(self, conversation_id: str | None, test_flag: bool):
        return await sync_to_async(conversation_for_bot)(
            bot=self.bot, conversation_id=conversation_id, test_flag=test_flag
        )

    async def _init(self, message: dict, req_id: Any) -> None:
        """Always a new conversation, greeted (the reference's `init`)."""
        speak, test_flag, options = _flags(message)
        conversation = await self._conversation(None, test_flag)
        await self.session.send_event(Status("init"), req_id)
        await self.session.send_event(ConversationStarted(str(conversation.pk)), req_id)

        async def greeting(turn_options: TurnOptions):
            voice = await self._voice() if speak else None
            async for event in pipeline.greeting_turn(conversation, voice, speak=speak, options=turn_options):
                yield event

        self.session.submit(conversation.pk, req_id, greeting, options=options)

    async def _start(self, message: dict, req_id: Any) -> None:
        speak, test_flag, options = _flags(message)
        use_vad = _bool(message, "vad", False)
        rate = message.get("sample_rate", ASR_SAMPLE_RATE)
        if rate not in ALLOWED_SAMPLE_RATES or isinstance(rate, bool):
            raise BadMessage(f"sample_rate must be one of {', '.join(map(str, ALLOWED_SAMPLE_RATES))}")
        conversation_id = _optional_str(message, "conversation_id")
        if self.recording is not None and not self.recording.ended:
            await self._send({"type": "error", "error": "A recording is already open", "req_id": req_id})
            return
        conversation = await self._conversation(conversation_id, test_flag)
        voice = await self._voice()
        early = pipeline.EarlyReply(conversation.pk) if settings.VOICEBOT_EARLY_REPLY else None
        vad = segmenter_from_settings(transcribe=pause_transcriber(voice.asr, voice.language)) if use_vad else None
        detector_decodes = getattr(vad, "transcribes_pauses", False)  # then one decode per pause, its own

        async def partial(text: str, stable: str) -> None:
            await self.session.send({"type": "asr_partial", "text": text, "stable": stable}, req_id)

        self.recording = Recording(
            req_id=req_id,
            conversation=conversation,
            speak=speak,
            options=options,
            sample_rate=rate,
            buffer=Pcm16Buffer(settings.VOICEBOT_MAX_UTTERANCE_BYTES),
            vad=vad,
            resampler=soxr.ResampleStream(rate, ASR_SAMPLE_RATE, 1, dtype="float32")
            if rate != ASR_SAMPLE_RATE
            else None,
            transcriber=StreamingTranscriber(
                voice.asr,
                voice.language,
                partial_interval_ms=settings.VOICEBOT_ASR_PARTIAL_MS,
                pause_ms=settings.VOICEBOT_ASR_PAUSE_MS,
                on_partial=partial,
                on_pause=early.on_pause if early is not None else None,
                pause_decodes=not detector_decodes,
            ),
            early=early,
        )
        await self.session.send_event(ConversationStarted(str(conversation.pk)), req_id)
        await self.session.send_event(Status("recording"), req_id)

    async def _stop(self, message: dict, req_id: Any) -> None:
        recording = self.recording
        if recording is None or recording.req_id != req_id:
            await self._send({"type": "error", "error": "Unknown req_id", "req_id": req_id})
            return
        if recording.ended:
            return  # VAD already ended this utterance and its turn is queued or running
        ended = time.perf_counter()
        samples = await asyncio.to_thread(recording.finish)
        self._submit_voice_turn(recording, samples, ended)

    async def _chat(self, message: dict, req_id: Any) -> None:
        text = message.get("text", "")
        if not isinstance(text, str):
            raise BadMessage("text must be a string")
        speak, test_flag, options = _flags(message)
        conversation_id = _optional_str(message, "conversation_id")
        if not text.strip():
            await self._send({"type": "error", "error": "Empty text", "req_id": req_id})
            await self.session.send_event(Status("idle"), req_id)
            return
        conversation = await self._conversation(conversation_id, test_flag)
        await self.session.send_event(ConversationStarted(str(conversation.pk)), req_id)
        text = text.strip()

        async def typed(turn_options: TurnOptions):
            voice = await self._voice() if speak else None
            async for event in pipeline.text_turn(conversation, text, voice, speak=speak, options=turn_options):
                yield event

        self.session.submit(conversation.pk, req_id, typed, options=options)

    async def _cancel(self, message: dict, req_id: Any) -> None:
        """Barge-in: stop the running turn (and its audio), or drop an open recording."""
        cancelled = await self.session.cancel()  # answers `done interrupted` + `status idle` itself
        recording = self.recording
        if cancelled is None and recording is not None and not recording.ended:
            self.recording = None
            await recording.aclose()
            await self.session.send({"type": "done", "text": "", "metrics": {}, "interrupted": True}, recording.req_id)
            await self.session.send_event(Status("idle"), recording.req_id)
            return
        if cancelled is None:
            await self._send({"type": "error", "error": "No request in progress", "req_id": req_id})

    # --- turns -----------------------------------------------------------------------------------
    def _submit_voice_turn(
        self, recording: Recording, samples: np.ndarray, ended: float, transcript: str | None = None
    ) -> None:
        recording.ended = True

        async def spoken(turn_options: TurnOptions):
            voice = await self._voice()
            if recording.transcriber is not None:  # transcribed while spoken: only the tail is left
                events = pipeline.streamed_voice_turn(
                    recording.conversation,
                    recording.transcriber,
                    voice,
                    speak=recording.speak,
                    speech_ended_at=ended,
                    options=turn_options,
                    early=recording.early,
                    samples=samples,
                    transcript=transcript,
                )
            else:
                events = pipeline.voice_turn(
                    recording.conversation,
                    samples,
                    voice,
                    speak=recording.speak,
                    speech_ended_at=ended,
                    options=turn_options,
                )
            async for event in events:
                yield event

        task = self.session.submit(recording.conversation.pk, recording.req_id, spoken, options=recording.options)
        task.add_done_callback(lambda _task: self._recording_done(recording))

    def _recording_done(self, recording: Recording) -> None:
        if self.recording is recording:
            self.recording = None

    async def _voice(self) -> pipeline.Voice:
        return await pipeline.Voice.for_bot(self.bot)

    async def _send(self, payload: dict) -> None:
        await self.send(text_data=json.dumps(payload, ensure_ascii=False))
