"""Wire shapes of conversations and messages (the reference's §2.4 and §2.5 field names).

The REST API returns them and the Studio's JSON export uses them, so both give the same shape.
`metadata_json` (a JSON string) is kept for reference clients; `metadata` is the same as an object.
"""

from __future__ import annotations

import json
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from conversations.models import Conversation, Message


class ConversationOutputSerializer(serializers.ModelSerializer):
    bot_id = serializers.UUIDField(read_only=True)
    bot_name = serializers.SerializerMethodField()
    metadata_json = serializers.SerializerMethodField()

    class Meta:
        model = Conversation
        fields = (
            "id",
            "bot_id",
            "bot_name",
            "test_flag",
            "metadata_json",
            "metadata",
            "llm_input_tokens_est",
            "llm_output_tokens_est",
            "cost_usd_est",
            "last_asr_ms",
            "last_llm_ttfb_ms",
            "last_llm_total_ms",
            "last_tts_first_audio_ms",
            "last_total_ms",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields

    def get_bot_name(self, conversation: Conversation) -> str | None:
        return conversation.bot.name if conversation.bot_id else None

    def get_metadata_json(self, conversation: Conversation) -> str:
        return json.dumps(conversation.metadata or {}, ensure_ascii=False)


# The reference's short metric names ("in" is a Python keyword, hence the mapping).
METRIC_FIELDS = {
    "in": "input_tokens_est",
    "out": "output_tokens_est",
    "cost": "cost_usd_est",
    "asr": "asr_ms",
    "llm1": "llm_ttfb_ms",
    "llm": "llm_total_ms",
    "tts1": "tts_first_audio_ms",
    "total": "total_ms",
}
MessageMetricsSerializer = inline_serializer(
    "MessageMetrics",
    {
        name: serializers.FloatField(allow_null=True) if name == "cost" else serializers.IntegerField(allow_null=True)
        for name in METRIC_FIELDS
    },
)


class MessageOutputSerializer(serializers.ModelSerializer):
    tool = serializers.SerializerMethodField()
    tool_name = serializers.SerializerMethodField()
    tool_kind = serializers.SerializerMethodField()
    metrics = serializers.SerializerMethodField()

    class Meta:
        model = Message
        fields = ("id", "role", "content", "created_at", "tool", "tool_name", "tool_kind", "metrics", "interrupted")
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_tool(self, message: Message) -> dict | None:
        return message.tool_payload

    def get_tool_name(self, message: Message) -> str | None:
        if message.tool_name:
            return message.tool_name
        name = (message.tool_payload or {}).get("tool")
        return name if isinstance(name, str) else None

    def get_tool_kind(self, message: Message) -> str | None:
        if message.tool_kind:
            return message.tool_kind
        payload = message.tool_payload or {}
        if "arguments" in payload:
            return Message.ToolKind.CALL
        if "result" in payload:
            return Message.ToolKind.RESULT
        return None

    @extend_schema_field(MessageMetricsSerializer)
    def get_metrics(self, message: Message) -> dict[str, Any]:
        return {name: getattr(message, attribute) for name, attribute in METRIC_FIELDS.items()}
