"""Studio talk socket `WS /ws/bots/<uuid>/talk`: the reference's protocol (§3.1) plus `cancel`.

Client → server: `init`, `start` (then binary PCM16 frames), `stop`, `chat`, `cancel` (JSON text
frames, each with `req_id`). Server → client: the engine's events in their wire shape with `req_id`
added, `done` last (with `metrics` here), then `status idle`. One request at a time per socket;
mistakes are answered with `{"type":"error","error":...}` and the socket stays open.

Thin by design: it parses, authorises (staff session, close 4401/4403 after an error event), keeps
the recording buffer, and hands turns to `audio.pipeline`; no business rules live here.
"""

from __future__ import annotations

import asyncio
import contextlib
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
from audio.asr.base import AsrError
from audio.pcm import ASR_SAMPLE_RATE, Pcm16Buffer, float32_to_pcm16, pcm16_to_float32
from audio.services import ConversationLookupError, bot_get, conversation_for_turn
from audio.tts.base import TtsError
from audio.vad import Utterance, VadParams, VadSegmenter
from conversations.engine.events import ConversationStarted, Done, Event, TextDelta, to_wire
from conversations.frames import FrameError, parse_frame

log = logging.getLogger(__name__)
TURN_FAILED = "Something went wrong in this turn; please try again."
VOICE_ERRORS = (AsrError, TtsError)
ALLOWED_SAMPLE_RATES = (8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000)


class BadMessage(ValueError):
    """A client message we refuse; the text is sent back as the error."""


@dataclass
class Recording:
    """An open `start`: PCM16 frames collected (and optionally endpointed by VAD) until `stop`."""

    req_id: Any
    conversation: Any
    speak: bool
    sample_rate: int
    buffer: Pcm16Buffer
    vad: VadSegmenter | None = None
    resampler: Any = None
    audio16k: bytearray = field(default_factory=bytearray)
    received: int = 0
    over_limit: bool = False

    def add(self, chunk: bytes) -> list[bytes]:
        """Store a frame; return utterances VAD found in it (empty without VAD)."""
        self.buffer.append(chunk)
        pcm = self.buffer.take_even()  # a dangling odd byte waits for the next frame
        if self.resampler is not None:
            pcm = float32_to_pcm16(self.resampler.resample_chunk(pcm16_to_float32(pcm)))
        self.audio16k.extend(pcm)
        if self.vad is None:
            return []
        return [e.pcm for e in self.vad.feed(pcm) if isinstance(e, Utterance)]

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


class TalkConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        await self.accept()
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
        self.active_req_id: Any = None
        self.recording: Recording | None = None
        self.turn: asyncio.Task | None = None
        self.said: list[str] = []
        self.ready = True
        self.warm_up = asyncio.create_task(self._warm_up())

    async def _warm_up(self) -> None:
        try:
            await pipeline.warm_up(await self._voice())
        except Exception:  # the first turn reports a broken voice itself
            pass

    async def disconnect(self, code: int) -> None:
        warm_up = getattr(self, "warm_up", None)
        if warm_up is not None and not warm_up.done():
            warm_up.cancel()
        turn = getattr(self, "turn", None)
        if turn is not None and not turn.done():
            turn.cancel()  # the engine stores what was said, marked interrupted
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await turn

    # --- frames ----------------------------------------------------------------------------------
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not getattr(self, "ready", False):
            return
        if bytes_data is not None:
            await self._audio_frame(bytes_data)
            return
        try:
            message = parse_frame(text_data or "")
        except FrameError as exc:
            await self._send({"type": "error", "error": exc.message, "code": exc.code})
            return
        if not isinstance(message, dict):
            await self._send({"type": "error", "error": "Invalid message: expected a JSON object"})
            return
        req_id = message.get("req_id")
        if req_id in (None, "") or not isinstance(req_id, str | int) or isinstance(req_id, bool):
            await self._send({"type": "error", "error": "Missing req_id"})
            return
        kind = message.get("type")
        handler = {
            "init": self._init,
            "start": self._start,
            "stop": self._stop,
            "chat": self._chat,
            "cancel": self._cancel,
        }.get(kind if isinstance(kind, str) else "")
        if handler is None:
            await self._send({"type": "error", "error": f"Unknown message type: {kind}", "req_id": req_id})
            return
        try:
            await handler(message, req_id)
        except (BadMessage, ConversationLookupError) as exc:
            await self._send({"type": "error", "error": str(exc), "req_id": req_id})

    async def _audio_frame(self, chunk: bytes) -> None:
        recording = self.recording
        if recording is None or self.turn is not None:
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
        utterances = await asyncio.to_thread(recording.add, chunk)  # resampling/VAD off the loop
        if utterances and self.turn is None:
            self._begin_voice_turn(pcm16_to_float32(utterances[0]), time.perf_counter())

    # --- requests --------------------------------------------------------------------------------
    def _busy(self) -> bool:
        return self.active_req_id is not None

    async def _refuse_if_busy(self, req_id: Any) -> bool:
        if self._busy():
            await self._send({"type": "error", "error": "Another request is already in progress", "req_id": req_id})
            return True
        return False

    async def _init(self, message: dict, req_id: Any) -> None:
        speak = _bool(message, "speak", True)
        test_flag = _bool(message, "test_flag", True)
        if await self._refuse_if_busy(req_id):
            return
        self.active_req_id = req_id
        conversation, _ = await sync_to_async(conversation_for_turn)(
            bot=self.bot, conversation_id=None, test_flag=test_flag
        )
        await self._emit(req_id, {"type": "status", "stage": "init"})
        await self._emit(req_id, to_wire(ConversationStarted(str(conversation.pk))))
        self._run(req_id, self._greeting_events(conversation, speak))

    async def _start(self, message: dict, req_id: Any) -> None:
        speak = _bool(message, "speak", True)
        test_flag = _bool(message, "test_flag", True)
        use_vad = _bool(message, "vad", False)
        rate = message.get("sample_rate", ASR_SAMPLE_RATE)
        if rate not in ALLOWED_SAMPLE_RATES or isinstance(rate, bool):
            raise BadMessage(f"sample_rate must be one of {', '.join(map(str, ALLOWED_SAMPLE_RATES))}")
        conversation_id = _optional_str(message, "conversation_id")
        if await self._refuse_if_busy(req_id):
            return
        conversation, _ = await sync_to_async(conversation_for_turn)(
            bot=self.bot, conversation_id=conversation_id, test_flag=test_flag
        )
        self.active_req_id = req_id
        self.recording = Recording(
            req_id=req_id,
            conversation=conversation,
            speak=speak,
            sample_rate=rate,
            buffer=Pcm16Buffer(settings.VOICEBOT_MAX_UTTERANCE_BYTES),
            vad=VadSegmenter(VadParams.from_settings()) if use_vad else None,
            resampler=soxr.ResampleStream(rate, ASR_SAMPLE_RATE, 1, dtype="float32")
            if rate != ASR_SAMPLE_RATE
            else None,
        )
        await self._emit(req_id, to_wire(ConversationStarted(str(conversation.pk))))
        await self._emit(req_id, {"type": "status", "stage": "recording"})

    async def _stop(self, message: dict, req_id: Any) -> None:
        recording = self.recording
        if recording is not None and recording.req_id == req_id and self.turn is not None:
            return  # VAD already ended this utterance and its turn is running
        if recording is None or recording.req_id != req_id:
            await self._send({"type": "error", "error": "Unknown req_id", "req_id": req_id})
            return
        ended = time.perf_counter()
        samples = await asyncio.to_thread(recording.finish)
        self._begin_voice_turn(samples, ended)

    async def _chat(self, message: dict, req_id: Any) -> None:
        text = message.get("text", "")
        if not isinstance(text, str):
            raise BadMessage("text must be a string")
        speak = _bool(message, "speak", True)
        test_flag = _bool(message, "test_flag", True)
        conversation_id = _optional_str(message, "conversation_id")
        if await self._refuse_if_busy(req_id):
            return
        if not text.strip():
            await self._emit(req_id, {"type": "error", "error": "Empty text"})
            await self._emit(req_id, {"type": "status", "stage": "idle"})
            return
        conversation, _ = await sync_to_async(conversation_for_turn)(
            bot=self.bot, conversation_id=conversation_id, test_flag=test_flag
        )
        self.active_req_id = req_id
        await self._emit(req_id, to_wire(ConversationStarted(str(conversation.pk))))
        self._run(req_id, self._text_events(conversation, text.strip(), speak))

    async def _cancel(self, message: dict, req_id: Any) -> None:
        """Barge-in: stop the running turn (and its audio) or drop an open recording."""
        if not self._busy():
            await self._send({"type": "error", "error": "No request in progress", "req_id": req_id})
            return
        active, turn = self.active_req_id, self.turn
        if turn is not None:
            turn.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await turn
        said = "".join(self.said)
        self._reset()
        await self._emit(active, {"type": "done", "text": said, "metrics": {}, "interrupted": True})
        await self._emit(active, {"type": "status", "stage": "idle"})

    # --- turns -----------------------------------------------------------------------------------
    def _begin_voice_turn(self, samples: np.ndarray, ended: float) -> None:
        recording = self.recording
        assert recording is not None
        self._run(recording.req_id, self._voice_events(recording, samples, ended))

    async def _voice(self) -> pipeline.Voice:
        return await pipeline.Voice.for_bot(self.bot)

    async def _voice_events(self, recording: Recording, samples: np.ndarray, ended: float):
        voice = await self._voice()
        async for event in pipeline.voice_turn(
            recording.conversation, samples, voice, speak=recording.speak, speech_ended_at=ended
        ):
            yield event

    async def _text_events(self, conversation, text: str, speak: bool):
        voice = await self._voice() if speak else None
        async for event in pipeline.text_turn(conversation, text, voice, speak=speak):
            yield event

    async def _greeting_events(self, conversation, speak: bool):
        voice = await self._voice() if speak else None
        async for event in pipeline.greeting_turn(conversation, voice, speak=speak):
            yield event

    def _run(self, req_id: Any, events) -> None:
        self.said = []
        self.turn = asyncio.create_task(self._pump(req_id, events))

    async def _pump(self, req_id: Any, events) -> None:
        """Send a turn's events; `done` then `status idle` close it (cancel sends its own)."""
        finished = False
        try:
            async for event in events:
                await self._send_event(req_id, event)
                if isinstance(event, Done):
                    finished = True
        except asyncio.CancelledError:
            raise
        except VOICE_ERRORS as exc:  # a model that cannot load or speak: its message tells the user what to fix
            await self._emit(req_id, {"type": "error", "error": str(exc), "code": "voice"})
        except Exception:  # anything else is reported (details in the log); the socket stays usable
            log.exception("talk socket: turn failed")
            await self._emit(req_id, {"type": "error", "error": TURN_FAILED, "code": "internal"})
        if not finished:
            await self._emit(req_id, {"type": "done", "text": "".join(self.said), "metrics": {}})
        self._reset()
        await self._emit(req_id, {"type": "status", "stage": "idle"})

    def _reset(self) -> None:
        self.active_req_id = None
        self.recording = None
        self.turn = None

    async def _send_event(self, req_id: Any, event: Event) -> None:
        if isinstance(event, TextDelta):
            self.said.append(event.delta)
        await self._emit(req_id, to_wire(event))

    async def _emit(self, req_id: Any, payload: dict) -> None:
        await self._send({**payload, "req_id": req_id})

    async def _send(self, payload: dict) -> None:
        await self.send(text_data=json.dumps(payload, ensure_ascii=False))
