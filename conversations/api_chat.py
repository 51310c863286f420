"""REST chat: `POST /api/bots/<uuid>/chat` (one JSON answer) and `/chat/stream` (NDJSON lines).

Unlike the reference's stateless versions these run the real engine: history, tools, templating and
persistence. An optional `conversation_id` resumes a conversation of this bot; otherwise one is
created and its id returned.

`speak: true` speaks the reply with the bot's TTS, in the reference's field names: `chat` adds
`audio_wav_base64` (one WAV of the whole reply) and `sr`; `chat/stream` adds `audio_wav` events
(`wav_base64`, `sr`), one per sentence while the model is still writing. The voice comes from the
speaker `audio` registers (`conversations.speakers`); a bot that cannot speak here is a 400 before
anything is stored. `speak` defaults to false (the reference defaulted to true and built the TTS
engine even for text-only calls).
"""

from __future__ import annotations

import base64
from typing import Any

from asgiref.sync import async_to_sync
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bots.models import Bot
from conversations.engine import TurnOptions, run_turn
from conversations.engine.llm import LLMError, resolve_target
from conversations.models import Conversation
from conversations.ndjson import collect, ndjson_lines, ndjson_response
from conversations.rest import conversation_or_error
from conversations.speakers import Speaker, SpeakerUnavailable, join_wavs, speaker_for

PROVIDER_ERROR_STATUS = {
    "no_key": 400,
    "key_error": 400,
    "not_found": 404,
    "queue_full": 429,
    "busy": 409,
    "internal_error": 500,
    "internal": 500,
}


class ChatInput(serializers.Serializer):
    text = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)
    conversation_id = serializers.UUIDField(required=False, allow_null=True, default=None)
    speak = serializers.BooleanField(required=False, default=False)
    test_flag = serializers.BooleanField(required=False, default=True)
    debug = serializers.BooleanField(required=False, default=False)


def _prepare_chat(request: Request, bot_id: Any) -> tuple[Conversation, dict[str, Any]]:
    """Validate, check the key and the voice, then find or create the conversation (nothing is created
    on a 4xx). `values["speaker"]` is the bot's speaker when `speak` is true, else None."""
    bot = get_object_or_404(Bot.objects.select_related("openai_key"), pk=bot_id)
    data = ChatInput(data=request.data)
    data.is_valid(raise_exception=True)
    values = data.validated_data
    if not values["text"].strip():
        raise ValidationError({"detail": "Empty text"})
    try:
        resolve_target(bot)
    except LLMError as exc:
        raise ValidationError({"detail": exc.message}) from exc
    values["speaker"] = None
    if values["speak"]:
        try:
            values["speaker"] = speaker_for(bot)
        except SpeakerUnavailable as exc:
            raise ValidationError({"detail": str(exc)}) from exc
    conversation = conversation_or_error(
        bot=bot, conversation_id=values["conversation_id"], test_flag=values["test_flag"]
    )
    return conversation, values


def _turn(conversation: Conversation, text: str, speaker: Speaker | None = None):
    if speaker is None:
        return lambda options: run_turn(conversation, text, options=options)
    return lambda options: speaker(run_turn(conversation, text, options=options))


CHAT_REQUEST = inline_serializer(
    "ChatRequest",
    {
        "text": serializers.CharField(),
        "conversation_id": serializers.UUIDField(required=False),
        "speak": serializers.BooleanField(required=False),
        "test_flag": serializers.BooleanField(required=False),
        "debug": serializers.BooleanField(required=False),
    },
)


class BotChatApi(APIView):
    """Run one turn and answer with the whole reply."""

    @extend_schema(
        request=CHAT_REQUEST,
        responses=inline_serializer(
            "ChatResponse",
            {
                "text": serializers.CharField(),
                "conversation_id": serializers.UUIDField(),
                "message_id": serializers.CharField(),
                "metrics": serializers.DictField(),
                "tool_calls": serializers.ListField(child=serializers.DictField()),
                "audio_wav_base64": serializers.CharField(required=False, help_text="With speak: one WAV"),
                "sr": serializers.IntegerField(required=False, help_text="With speak: its sample rate"),
            },
        ),
    )
    def post(self, request: Request, bot_id) -> Response:
        conversation, values = _prepare_chat(request, bot_id)
        wires, done = async_to_sync(collect)(
            conversation.pk,
            _turn(conversation, values["text"], values["speaker"]),
            options=TurnOptions(debug=values["debug"]),
        )
        error = next((w for w in wires if w["type"] == "error" and w.get("code") != "tts_error"), None)
        if error is not None or done is None:
            error = error or {"error": "The turn ended without an answer", "code": "internal"}
            return Response(
                {"detail": error["error"], "code": error["code"], "conversation_id": str(conversation.pk)},
                status=PROVIDER_ERROR_STATUS.get(error["code"], status.HTTP_502_BAD_GATEWAY),
            )
        body = {
            "text": done.text,
            "conversation_id": str(conversation.pk),
            "message_id": done.message_id,
            "metrics": done.metrics,
            "tool_calls": [w for w in wires if w["type"] in ("tool_call", "tool_result")],
        }
        if values["speak"]:
            body.update(_spoken(wires))
        return Response(body)


def _spoken(wires: list[dict[str, Any]]) -> dict[str, Any]:
    """The reference's `audio_wav_base64` and `sr`: the reply's sentences joined into one WAV; a TTS
    failure leaves the text answer and says why in `tts_error`."""
    chunks = [w for w in wires if w["type"] == "audio_wav"]
    spoken: dict[str, Any] = {}
    if chunks:
        wav = join_wavs([base64.b64decode(w["wav_base64"]) for w in chunks])
        spoken = {"audio_wav_base64": base64.b64encode(wav).decode("ascii"), "sr": chunks[0]["sr"]}
    failure = next((w for w in wires if w["type"] == "error" and w.get("code") == "tts_error"), None)
    if failure is not None:
        spoken["tts_error"] = failure["error"]
    return spoken


class BotChatStreamApi(APIView):
    """Run one turn and stream its events as NDJSON: `conversation`, `status`, `text_delta`…,
    `tool_call`/`tool_result`/`interim`, `audio_wav` (with `speak`), `metrics`, then `done` (or
    `error`); `ping` when idle 10 s."""

    @extend_schema(request=CHAT_REQUEST, responses={(200, "application/x-ndjson"): OpenApiTypes.STR})
    def post(self, request: Request, bot_id):
        conversation, values = _prepare_chat(request, bot_id)
        lines = ndjson_lines(
            conversation.pk,
            _turn(conversation, values["text"], values["speaker"]),
            options=TurnOptions(debug=values["debug"]),
        )
        return ndjson_response(lines)
