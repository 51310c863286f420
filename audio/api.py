"""REST `POST /api/bots/<uuid>/talk/stream`: a WAV upload → ASR → engine → streamed TTS, as NDJSON.

Multipart fields (the reference's): `audio` (file), `conversation_id` (optional), `test_flag` and
`speak` (booleans, default true). One JSON object per line: `conversation`, `status`, `asr`,
`text_delta`, `audio_wav` (one per sentence, while the model is still writing), `metrics`, tool
events, `ping` after 10 s of silence, `error`, and `done` last. Bad input is a 400 `{"detail"}`
before streaming starts; staff only (DRF's IsAdminUser default).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator

from django.conf import settings
from django.http import StreamingHttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.views import APIView

from audio import pipeline
from audio.asr.base import AsrError
from audio.pcm import AudioDecodeError, decode_for_asr
from audio.services import ConversationLookupError, bot_get, conversation_for_turn
from audio.tts.base import TtsError
from conversations.engine.events import ConversationStarted, Event, to_wire

log = logging.getLogger(__name__)
TURN_FAILED = "Something went wrong in this turn; please try again."
VOICE_ERRORS = (AsrError, TtsError)

PING_AFTER_S = 10.0


class TalkStreamInput(serializers.Serializer):
    audio = serializers.FileField()
    conversation_id = serializers.CharField(required=False, allow_blank=True, default="")
    test_flag = serializers.BooleanField(required=False, default=True)
    speak = serializers.BooleanField(required=False, default=True)


async def with_pings(events: AsyncIterator[Event], interval: float) -> AsyncIterator[dict]:
    """Wire dicts for `events`, plus `{"type":"ping"}` whenever nothing was sent for `interval` s."""
    queue: asyncio.Queue = asyncio.Queue()
    end = object()

    async def pump() -> None:
        try:
            async for event in events:
                await queue.put(to_wire(event))
        except VOICE_ERRORS as exc:  # a model that cannot load or speak: its message tells the user what to fix
            await queue.put({"type": "error", "error": str(exc), "code": "voice"})
        except Exception:  # report (details in the log), then end the stream
            log.exception("talk/stream: turn failed")
            await queue.put({"type": "error", "error": TURN_FAILED, "code": "internal"})
        finally:
            await queue.put(end)

    task = asyncio.create_task(pump())
    try:
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), timeout=interval)
            except TimeoutError:
                yield {"type": "ping"}
                continue
            if item is end:
                break
            yield item
    finally:
        if not task.done():
            task.cancel()  # client gone: the engine stores what was said, marked interrupted
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def _ndjson(bot, conversation, samples, speak: bool, received_at: float) -> AsyncIterator[bytes]:
    async def events() -> AsyncIterator[Event]:
        yield ConversationStarted(str(conversation.pk))
        voice = await pipeline.Voice.for_bot(bot)
        async for event in pipeline.voice_turn(conversation, samples, voice, speak=speak, speech_ended_at=received_at):
            yield event

    async for wire in with_pings(events(), PING_AFTER_S):
        yield (json.dumps(wire, ensure_ascii=False) + "\n").encode()


class TalkStreamApi(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request=TalkStreamInput, responses={(200, "application/x-ndjson"): dict})
    def post(self, request: Request, bot_id) -> StreamingHttpResponse:
        received_at = time.perf_counter()
        bot = bot_get(bot_id)
        if bot is None:
            raise NotFound("Bot not found")
        data = TalkStreamInput(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["audio"]
        if upload.size > settings.VOICEBOT_MAX_UPLOAD_BYTES:
            raise ValidationError(
                {"detail": f"Audio file too large (at most {settings.VOICEBOT_MAX_UPLOAD_BYTES} bytes)"}
            )
        try:
            samples = decode_for_asr(upload.read())
        except AudioDecodeError as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        if samples.size == 0:
            raise ValidationError({"detail": "Empty audio"})
        try:
            conversation, _ = conversation_for_turn(
                bot=bot,
                conversation_id=data.validated_data["conversation_id"] or None,
                test_flag=data.validated_data["test_flag"],
            )
        except ConversationLookupError as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        response = StreamingHttpResponse(
            _ndjson(bot, conversation, samples, data.validated_data["speak"], received_at),
            content_type="application/x-ndjson",
        )
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"  # let nginx pass lines through as they come
        return response
