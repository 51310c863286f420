"""REST chat: `POST /api/bots/<uuid>/chat` (one JSON answer) and `/chat/stream` (NDJSON lines).

Unlike the reference's stateless versions these run the real engine: history, tools, templating and
persistence. An optional `conversation_id` resumes a conversation of this bot; otherwise one is
created and its id returned. `speak` is accepted for compatibility and ignored here: spoken replies
are the voice endpoints' job (`/talk/stream`).
"""

from __future__ import annotations

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
    """Validate, check the key, then find or create the conversation (nothing is created on a 4xx)."""
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
    conversation = conversation_or_error(
        bot=bot, conversation_id=values["conversation_id"], test_flag=values["test_flag"]
    )
    return conversation, values


def _turn(conversation: Conversation, text: str):
    return lambda options: run_turn(conversation, text, options=options)


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
            },
        ),
    )
    def post(self, request: Request, bot_id) -> Response:
        conversation, values = _prepare_chat(request, bot_id)
        wires, done = async_to_sync(collect)(
            conversation.pk, _turn(conversation, values["text"]), options=TurnOptions(debug=values["debug"])
        )
        error = next((w for w in wires if w["type"] == "error"), None)
        if error is not None or done is None:
            error = error or {"error": "The turn ended without an answer", "code": "internal"}
            return Response(
                {"detail": error["error"], "code": error["code"], "conversation_id": str(conversation.pk)},
                status=PROVIDER_ERROR_STATUS.get(error["code"], status.HTTP_502_BAD_GATEWAY),
            )
        return Response(
            {
                "text": done.text,
                "conversation_id": str(conversation.pk),
                "message_id": done.message_id,
                "metrics": done.metrics,
                "tool_calls": [w for w in wires if w["type"] in ("tool_call", "tool_result")],
            }
        )


class BotChatStreamApi(APIView):
    """Run one turn and stream its events as NDJSON: `conversation`, `status`, `text_delta`…,
    `tool_call`/`tool_result`/`interim`, `metrics`, then `done` (or `error`); `ping` when idle 10 s."""

    @extend_schema(request=CHAT_REQUEST, responses={(200, "application/x-ndjson"): OpenApiTypes.STR})
    def post(self, request: Request, bot_id):
        conversation, values = _prepare_chat(request, bot_id)
        lines = ndjson_lines(
            conversation.pk, _turn(conversation, values["text"]), options=TurnOptions(debug=values["debug"])
        )
        return ndjson_response(lines)
