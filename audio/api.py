"""REST `POST /api/bots/<uuid>/talk/stream`: a WAV upload → ASR → engine → streamed TTS, as NDJSON.

Multipart fields (the reference's): `audio` (file), `conversation_id` (optional), `test_flag` and
`speak` (booleans, default true). One JSON object per line: `conversation`, `status`, `asr`,
`text_delta`, `audio_wav` (one per sentence, while the model is still writing), `metrics`, tool
events, `ping` after 10 s of silence, `error`, and `done` last. Bad input is a 400 `{"detail"}`
before streaming starts; staff only (DRF's IsAdminUser default).
"""

from __future__ import annotations

import time

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.views import APIView

from audio import pipeline
from audio.pcm import AudioDecodeError, decode_for_asr
from audio.services import bot_get
from conversations.ndjson import ndjson_lines, ndjson_response
from conversations.rest import conversation_or_error


class TalkStreamInput(serializers.Serializer):
    audio = serializers.FileField()
    conversation_id = serializers.CharField(required=False, allow_blank=True, default="")
    test_flag = serializers.BooleanField(required=False, default=True)
    speak = serializers.BooleanField(required=False, default=True)


def _voice_turn(bot, conversation, samples, *, speak: bool, received_at: float):
    async def events(options):
        voice = await pipeline.Voice.for_bot(bot)
        async for event in pipeline.voice_turn(
            conversation, samples, voice, speak=speak, speech_ended_at=received_at, options=options
        ):
            yield event

    return events


class TalkStreamApi(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request=TalkStreamInput, responses={(200, "application/x-ndjson"): dict})
    def post(self, request: Request, bot_id):
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
        conversation = conversation_or_error(
            bot=bot,
            conversation_id=data.validated_data["conversation_id"] or None,
            test_flag=data.validated_data["test_flag"],
        )
        factory = _voice_turn(bot, conversation, samples, speak=data.validated_data["speak"], received_at=received_at)
        return ndjson_response(ndjson_lines(conversation.pk, factory))
