"""REST `POST /api/bots/<uuid>/talk/stream`: a WAV upload → ASR → engine → streamed TTS, as NDJSON;
and `GET /api/tts/meta`: a voice's speakers and languages (`audio.tts.meta`).

Multipart fields (the reference's): `audio` (file), `conversation_id` (optional), `test_flag` and
`speak` (booleans, default true). One JSON object per line: `conversation`, `status`, `asr`,
`text_delta`, `audio_wav` (one per sentence, while the model is still writing), `metrics`, tool
events, `ping` after 10 s of silence, `error`, and `done` last. Bad input is a 400 `{"detail"}`
before streaming starts; staff only (DRF's IsAdminUser default).
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audio import pipeline
from audio.pcm import AudioDecodeError, decode_for_asr
from audio.services import bot_get
from audio.tts import meta
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


class TtsMetaApi(APIView):
    """`GET /api/tts/meta`: `{speakers, languages}` as in the reference, plus `engine`, `voice`,
    `available` and `detail`. Choose the voice by `bot_id` (the bot's engine and voice), by
    `model_name` (an XTTS model, the reference's parameter), or by `engine` and `voice` (a Piper
    voice name; OpenAI lists its voices). Staff only."""

    @extend_schema(
        operation_id="tts_meta",
        parameters=[
            OpenApiParameter("bot_id", OpenApiTypes.UUID, description="The bot whose voice to describe"),
            OpenApiParameter("model_name", OpenApiTypes.STR, description="An XTTS model (the reference's parameter)"),
            OpenApiParameter("engine", OpenApiTypes.STR, description="piper, xtts or openai (xtts_local accepted)"),
            OpenApiParameter("voice", OpenApiTypes.STR, description="A Piper voice name"),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        try:
            if params.get("bot_id"):
                bot = bot_get(params["bot_id"])
                if bot is None:
                    raise NotFound("Bot not found")
                result = meta.voice_meta_for_bot(bot)
            elif params.get("model_name") and not params.get("engine"):
                result = meta.voice_meta(engine="xtts", model_name=params["model_name"])
            else:
                result = meta.voice_meta(
                    engine=params.get("engine") or "piper",
                    voice=params.get("voice", ""),
                    model_name=params.get("model_name", ""),
                )
        except meta.MetaError as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        except DjangoValidationError as exc:  # a malformed bot_id
            raise ValidationError({"detail": "bot_id must be a bot's UUID"}) from exc
        return Response(result.as_dict())
