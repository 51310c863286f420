"""REST endpoints to browse stored conversations (the reference's §2.4 and §2.5 shapes).

`metadata_json` (a JSON string) is kept for reference clients; `metadata` is the same as an object.
Conversations are only read here; the engine and the transports write them.
"""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bots.serializers import BotOutputSerializer
from conversations.models import Conversation, Message
from conversations.serializers import ConversationOutputSerializer, MessageOutputSerializer

PAGE_SIZE_DEFAULT = 50
PAGE_SIZE_MIN = 10
PAGE_SIZE_MAX = 200


def conversation_list(*, bot_id=None, test_flag: bool | None = None) -> QuerySet[Conversation]:
    """Conversations, most recently active first, with their bot in the same query."""
    conversations = Conversation.objects.select_related("bot").order_by("-updated_at")
    if bot_id is not None:
        conversations = conversations.filter(bot_id=bot_id)
    if test_flag is not None:
        conversations = conversations.filter(test_flag=test_flag)
    return conversations


PAGE_MAX = 1_000_000


class ConversationListQuery(serializers.Serializer):
    """Query parameters; page and page_size are clamped (not refused) like the reference."""

    page = serializers.IntegerField(required=False, default=1)
    page_size = serializers.IntegerField(required=False, default=PAGE_SIZE_DEFAULT)
    bot_id = serializers.UUIDField(required=False)
    test_flag = serializers.BooleanField(required=False, allow_null=True, default=None)

    def validate_page(self, value: int) -> int:
        return min(PAGE_MAX, max(1, value))  # a huge page would overflow the database's OFFSET

    def validate_page_size(self, value: int) -> int:
        return min(PAGE_SIZE_MAX, max(PAGE_SIZE_MIN, value))


class ConversationListApi(APIView):
    @extend_schema(
        operation_id="conversations_list",
        parameters=[ConversationListQuery],
        responses={
            200: inline_serializer(
                "ConversationPage",
                {
                    "items": ConversationOutputSerializer(many=True),
                    "page": serializers.IntegerField(),
                    "page_size": serializers.IntegerField(),
                    "total": serializers.IntegerField(),
                },
            )
        },
    )
    def get(self, request: Request) -> Response:
        query = ConversationListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        page, page_size = query.validated_data["page"], query.validated_data["page_size"]
        conversations = conversation_list(
            bot_id=query.validated_data.get("bot_id"), test_flag=query.validated_data.get("test_flag")
        )
        offset = (page - 1) * page_size
        return Response(
            {
                "items": ConversationOutputSerializer(conversations[offset : offset + page_size], many=True).data,
                "page": page,
                "page_size": page_size,
                "total": conversations.count(),
            }
        )


class ConversationDetailApi(APIView):
    @extend_schema(
        operation_id="conversations_retrieve",
        responses={
            200: inline_serializer(
                "ConversationDetail",
                {
                    "conversation": ConversationOutputSerializer(),
                    "bot": BotOutputSerializer(),
                    "messages": MessageOutputSerializer(many=True),
                },
            )
        },
    )
    def get(self, request: Request, conversation_id) -> Response:
        conversation = get_object_or_404(
            Conversation.objects.select_related("bot").prefetch_related(
                Prefetch("messages", queryset=Message.objects.order_by("created_at", "id"))
            ),
            pk=conversation_id,
        )
        return Response(
            {
                "conversation": ConversationOutputSerializer(conversation).data,
                "bot": BotOutputSerializer(conversation.bot).data,
                "messages": MessageOutputSerializer(conversation.messages.all(), many=True).data,
            }
        )
