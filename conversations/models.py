"""Conversations and their messages, with per-message and rolled-up metrics."""

from __future__ import annotations

import json
import uuid

from django.db import models

from bots.models import Bot


class Conversation(models.Model):
    class Channel(models.TextChoices):
        """The one list of transports a conversation can come from (lists, filters, metrics labels)."""

        STUDIO = "studio", "Studio"
        WIDGET = "widget", "Widget"
        REST = "rest", "REST API"
        CLI = "cli", "voicebot_run"
        PHONE = "phone", "Phone"

    class VisitorProof(models.TextChoices):
        """How a widget visitor proves this conversation is theirs (embed/ownership.py)."""

        NONE = "", "none (Studio, REST, or made before visitor ownership)"
        SITE = "site", "site-signed user_token"
        BROWSER = "browser", "server-issued browser secret"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="conversations")
    test_flag = models.BooleanField(default=True, db_index=True, help_text="Made in the Studio (true) or live (false).")
    channel = models.CharField(
        max_length=8, choices=Channel.choices, default=Channel.STUDIO, db_index=True, help_text="Where it came from."
    )
    has_voice = models.BooleanField(default=False, help_text="At least one turn was spoken.")
    external_id = models.CharField(
        max_length=200, null=True, blank=True, db_index=True, help_text="Embed user_conversation_id."
    )
    client_key = models.ForeignKey(
        "embed.ClientKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    visitor_proof = models.CharField(
        max_length=8,
        choices=VisitorProof.choices,
        blank=True,
        default="",
        help_text="Embed: the proof a visitor needs to continue this conversation (empty: none can).",
    )
    browser_secret_hash = models.CharField(
        max_length=64,
        blank=True,
        default="",
        editable=False,
        help_text="Embed: keyed hash of the secret issued to the browser that owns this conversation.",
    )
    metadata = models.JSONField(default=dict, blank=True, help_text="Conversation variables, read by {{.x}} templates.")

    llm_input_tokens_est = models.PositiveIntegerField(default=0)
    llm_output_tokens_est = models.PositiveIntegerField(default=0)
    cost_usd_est = models.FloatField(default=0.0)
    last_asr_ms = models.PositiveIntegerField(null=True, blank=True)
    last_llm_ttfb_ms = models.PositiveIntegerField(null=True, blank=True)
    last_llm_total_ms = models.PositiveIntegerField(null=True, blank=True)
    last_tts_first_audio_ms = models.PositiveIntegerField(null=True, blank=True)
    last_total_ms = models.PositiveIntegerField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
            # One site-proven conversation per (bot, user id, client key); browser-proven ones are
            # found by their secret's hash, so two browsers with the same user id never share one.
            models.UniqueConstraint(
                fields=["bot", "external_id", "client_key"],
                condition=models.Q(visitor_proof="site"),
                name="conversation_unique_site_user_per_bot_and_key",
            ),
            models.UniqueConstraint(
                fields=["browser_secret_hash"],
                condition=~models.Q(browser_secret_hash=""),
                name="conversation_unique_browser_secret",
            ),
        ]
        indexes = [models.Index(fields=["bot", "-updated_at"], name="conversation_bot_updated")]

    def __str__(self) -> str:
        return f"{self.bot.name if self.bot_id else '?'} · {self.id}"


class Message(models.Model):
    """One stored message. Tool calls and results are `tool` rows whose content is JSON text
    (`{"tool", "arguments"}` or `{"tool", "result"}`), the reference's wire shape."""

    class Role(models.TextChoices):
        USER = "user", "user"
        ASSISTANT = "assistant", "assistant"
        TOOL = "tool", "tool"

    class ToolKind(models.TextChoices):
        CALL = "call", "call"
        RESULT = "result", "result"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=16, choices=Role.choices, db_index=True)
    content = models.TextField(blank=True, default="")
    tool_name = models.CharField(max_length=64, blank=True, default="")
    tool_kind = models.CharField(max_length=8, choices=ToolKind.choices, blank=True, default="")
    tool_call_id = models.CharField(
        max_length=128, blank=True, default="", help_text="Model's call id (pairs call and result)."
    )
    interrupted = models.BooleanField(default=False, help_text="The turn was cut off while this text was being said.")
    audio = models.FileField(
        max_length=300,
        blank=True,
        default="",
        help_text="Voice turns: what the user said / what the bot said (a WAV under the data dir; staff-only view).",
    )

    input_tokens_est = models.PositiveIntegerField(null=True, blank=True)
    output_tokens_est = models.PositiveIntegerField(null=True, blank=True)
    cost_usd_est = models.FloatField(null=True, blank=True)
    asr_ms = models.PositiveIntegerField(null=True, blank=True)
    llm_ttfb_ms = models.PositiveIntegerField(null=True, blank=True)
    llm_total_ms = models.PositiveIntegerField(null=True, blank=True)
    tts_first_audio_ms = models.PositiveIntegerField(null=True, blank=True)
    total_ms = models.PositiveIntegerField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["conversation", "created_at"], name="message_conversation_created")]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:60]}"

    @property
    def tool_payload(self) -> dict | None:
        """Parsed JSON of a tool row (None for user/assistant rows or unparsable content)."""
        if self.role != self.Role.TOOL:
            return None
        try:
            value = json.loads(self.content)
        except (TypeError, ValueError):
            return None
        return value if isinstance(value, dict) else None
