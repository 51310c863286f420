"""Admin for conversations: a read-only transcript (messages inline, metadata pretty-printed)."""

from __future__ import annotations

import json

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from conversations.models import Conversation, Message


class _ReadOnly:
    """Stored conversations are a record of what happened: viewable and deletable, never edited here."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class MessageInline(_ReadOnly, admin.TabularInline):
    model = Message
    extra = 0
    can_delete = False
    ordering = ("created_at",)
    fields = ("created_at", "role", "content", "tool_name", "tool_kind", "interrupted", "llm_ttfb_ms", "total_ms")
    readonly_fields = fields
    show_change_link = True


@admin.register(Conversation)
class ConversationAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = (
        "id",
        "bot",
        "test_flag",
        "external_id",
        "llm_input_tokens_est",
        "llm_output_tokens_est",
        "cost_usd_est",
        "last_total_ms",
        "updated_at",
    )
    list_select_related = ("bot",)
    list_filter = ("test_flag", "bot")
    search_fields = ("=id", "external_id", "bot__name")
    date_hierarchy = "updated_at"
    inlines = (MessageInline,)
    exclude = ("metadata",)
    readonly_fields = (
        "id",
        "bot",
        "test_flag",
        "external_id",
        "client_key",
        "metadata_pretty",
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

    @admin.display(description="metadata")
    def metadata_pretty(self, conversation: Conversation) -> str:
        text = json.dumps(conversation.metadata or {}, indent=2, ensure_ascii=False, sort_keys=True)
        return format_html("<pre style='white-space:pre-wrap;margin:0'>{}</pre>", text)


@admin.register(Message)
class MessageAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("created_at", "conversation", "role", "short_content", "tool_name", "tool_kind", "interrupted")
    list_select_related = ("conversation", "conversation__bot")
    list_filter = ("role", "tool_kind", "interrupted")
    search_fields = ("content", "tool_name", "=conversation__id")
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in Message._meta.fields]

    @admin.display(description="content")
    def short_content(self, message: Message) -> str:
        return message.content if len(message.content) <= 80 else f"{message.content[:80]}…"
