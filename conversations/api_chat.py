"""REST chat: `POST /api/bots/<uuid>/chat` (one JSON answer) and `/chat/stream` (NDJSON lines).

Unlike the reference's stateless versions these run the real engine: history, tools, templating and
persistence. An optional `conversation_id` resumes a conversation of this bot; otherwise one is
created and its id returned. `speak` is accepted for compatibility and ignored here: spoken replies
are the voice endpoints' job (`/talk/stream`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from asgiref.sync import async_to_sync
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bots.models import Bot
from conversations import services
from conversations.engine import TurnOptions, run_turn
from conversations.engine.events import ConversationStarted, Done, Error, Event, TextDelta, to_wire
from conversations.engine.llm import LLMError, resolve_target
from conversations.models import Conversation

PING_AFTER_S = 10.0
PROVIDER_ERROR_STATUS = {"no_key": 400, "key_error": 400, "not_found": 404, "internal_error": 500}


class ChatInput(serializers.Serializer):
    text = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)
    conversation_id = serializers.UUIDField(required=False, allow_null=True, default=None)
    speak = serializers.BooleanField(required=False, default=False)
    test_flag = serializers.BooleanField(required=False, default=True)
    debug = serializers.BooleanField(required=False, default=False)


class _ChatBadRequest(Exception):
    def __init__(self, detail: str, status_code: int) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status_code = status_code


def _prepare_chat(request: Request, bot_id: Any) -> tuple[Conversation, dict[str, Any]]:
    """Validate, check the key, then find or create the conversation (nothing is created on a 4xx)."""
    bot = get_object_or_404(Bot.objects.select_related("openai_key"), pk=bot_id)
    data = ChatInput(data=request.data)
    data.is_valid(raise_exception=True)
    values = data.validated_data
    if not values["text"].strip():
        raise _ChatBadRequest("Empty text", status.HTTP_400_BAD_REQUEST)
    try:
        resolve_target(bot)
    except LLMError as exc:
        raise _ChatBadRequest(exc.message, status.HTTP_400_BAD_REQUEST) from exc
    try:
        conversation = services.conversation_for_bot(
            bot=bot, conversation_id=values["conversation_id"], test_flag=values["test_flag"]
        )
    except services.ConversationNotFound as exc:
        raise _ChatBadRequest(str(exc), status.HTTP_404_NOT_FOUND) from exc
    except services.ConversationOfAnotherBot as exc:
        raise _ChatBadRequest(str(exc), status.HTTP_400_BAD_REQUEST) from exc
    return conversation, values


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
        try:
            conversation, values = _prepare_chat(request, bot_id)
        except _ChatBadRequest as exc:
            return Response({"detail": exc.detail}, status=exc.status_code)
        events = async_to_sync(_collect)(conversation, values["text"], TurnOptions(debug=values["debug"]))
        error = next((e for e in events if isinstance(e, Error)), None)
        if error is not None:
            return Response(
                {"detail": error.message, "code": error.code, "conversation_id": str(conversation.pk)},
                status=PROVIDER_ERROR_STATUS.get(error.code, status.HTTP_502_BAD_GATEWAY),
            )
        done = next(e for e in events if isinstance(e, Done))
        tool_events = [to_wire(e) for e in events if to_wire(e)["type"] in ("tool_call", "tool_result")]
        return Response(
            {
                "text": done.text,
                "conversation_id": str(conversation.pk),
                "message_id": done.message_id,
                "metrics": done.metrics,
                "tool_calls": tool_events,
            }
        )


async def _collect(conversation: Conversation, text: str, options: TurnOptions) -> list[Event]:
    async with contextlib.aclosing(run_turn(conversation, text, options=options)) as events:
        return [event async for event in events]


class BotChatStreamApi(APIView):
    """Run one turn and stream its events as NDJSON: `conversation`, `status`, `text_delta`…,
    `tool_call`/`tool_result`/`interim`, `metrics`, then `done` (or `error`); `ping` when idle 10 s."""

    @extend_schema(request=CHAT_REQUEST, responses={(200, "application/x-ndjson"): OpenApiTypes.STR})
    def post(self, request: Request, bot_id):
        try:
            conversation, values = _prepare_chat(request, bot_id)
        except _ChatBadRequest as exc:
            return Response({"detail": exc.detail}, status=exc.status_code)
        lines = ndjson_lines(
            conversation, run_turn(conversation, values["text"], options=TurnOptions(debug=values["debug"]))
        )
        response = StreamingHttpResponse(lines, content_type="application/x-ndjson")
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        return response


def _line(payload: dict[str, Any]) -> bytes:
    return (json.dumps(payload, ensure_ascii=False) + "\n").encode("utf-8")


async def ndjson_lines(conversation: Conversation, events: AsyncIterator[Event]) -> AsyncIterator[bytes]:
    """Engine events as NDJSON lines, with a `ping` line after PING_AFTER_S of silence. Closing this
    iterator (client gone) closes the turn, which stores what was said as interrupted."""
    yield _line(to_wire(ConversationStarted(conversation_id=str(conversation.pk))))
    pending: asyncio.Future | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(events.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=PING_AFTER_S)
            if not done:
                yield _line({"type": "ping"})
                continue
            try:
                event = pending.result()
            except StopAsyncIteration:
                pending = None
                break
            pending = None
            wire = to_wire(event)
            if isinstance(event, Done):
                wire["conversation_id"] = str(conversation.pk)
                wire["message_id"] = event.message_id
            elif isinstance(event, TextDelta) and not event.delta:
                continue
            yield _line(wire)
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        await events.aclose()
