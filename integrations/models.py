"""HTTP integration tools and the files their calls leave behind (saved responses, exports, download tokens)."""

from __future__ import annotations

import json
import uuid

from django.db import models

from bots import crypto
from bots.models import Bot
from bots.rules import tool_name_validator


class IntegrationTool(models.Model):
    """An LLM-callable HTTP request. Headers are encrypted at rest (they usually carry credentials)."""

    class Method(models.TextChoices):
        GET = "GET", "GET"
        POST = "POST", "POST"
        PUT = "PUT", "PUT"
        PATCH = "PATCH", "PATCH"
        DELETE = "DELETE", "DELETE"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="tools")
    name = models.CharField(max_length=64, validators=[tool_name_validator], db_index=True)
    description = models.TextField(blank=True, default="")
    url = models.CharField(
        max_length=2000, help_text="URL template, e.g. https://api.example.com/users/{{args.user_id}}"
    )
    method = models.CharField(max_length=8, choices=Method.choices, default=Method.GET)
    enabled = models.BooleanField(default=True)
    args_required = models.JSONField(default=list, blank=True, help_text="Keys required inside args.")
    headers_ciphertext = models.TextField(blank=True, default="", editable=False)
    request_body_template = models.TextField(blank=True, default="{}")
    parameters_schema = models.JSONField(null=True, blank=True, help_text="JSON Schema (Draft 2020-12) for args.")
    response_schema = models.JSONField(null=True, blank=True, help_text="Optional JSON Schema of the HTTP response.")
    response_mapper = models.JSONField(default=dict, blank=True, help_text="{metadata_key: template}")
    static_reply_template = models.TextField(
        blank=True, default="", help_text="Jinja2; takes priority over next_reply."
    )
    use_codex_response = models.BooleanField(default=False)
    codex_prompt = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["-updated_at"]
        constraints = [models.UniqueConstraint(fields=["bot", "name"], name="integrationtool_unique_name_per_bot")]

    def __str__(self) -> str:
        return f"{self.name} ({self.method})"

    def set_headers_template(self, template: dict | str) -> None:
        text = template if isinstance(template, str) else json.dumps(template, ensure_ascii=False)
        text = text.strip()
        self.headers_ciphertext = "" if text in ("", "{}") else crypto.encrypt_text(text)

    def get_headers_template(self) -> str:
        """The decrypted headers JSON template ("{}" when none); raises crypto.SecretError."""
        return crypto.decrypt_text(self.headers_ciphertext) if self.headers_ciphertext else "{}"

    @property
    def headers_configured(self) -> bool:
        return bool(self.headers_ciphertext)


def _saved_response_path(instance: SavedResponse, filename: str) -> str:
    return f"saved_responses/{instance.conversation_id}/{instance.id}.json"


def _export_path(instance: Export, filename: str) -> str:
    return f"exports/{instance.conversation_id}/{instance.id}.{instance.format}"


class SavedResponse(models.Model):
    """The body of a successful integration call, kept so recall/export can answer follow-ups."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    conversation = models.ForeignKey(
        "conversations.Conversation", on_delete=models.CASCADE, related_name="saved_responses"
    )
    tool = models.ForeignKey(
        IntegrationTool, null=True, blank=True, on_delete=models.SET_NULL, related_name="saved_responses"
    )
    tool_name = models.CharField(max_length=64, db_index=True)
    tool_call_id = models.CharField(max_length=128, blank=True, default="")
    file = models.FileField(upload_to=_saved_response_path, max_length=500)
    response_schema = models.JSONField(null=True, blank=True, help_text="Given or derived schema of the body.")
    status_code = models.PositiveIntegerField(null=True, blank=True)
    size_bytes = models.PositiveIntegerField(default=0)
    fields_required = models.TextField(blank=True, default="")
    why_api_was_called = models.TextField(blank=True, default="")
    codex_result_text = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["conversation", "tool_name", "-created_at"], name="savedresp_conv_tool_created")
        ]

    def __str__(self) -> str:
        return f"{self.tool_name} @ {self.created_at:%Y-%m-%d %H:%M}"


class Export(models.Model):
    """A CSV/JSON file made from a saved response for the user to download."""

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        JSON = "json", "JSON"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    conversation = models.ForeignKey("conversations.Conversation", on_delete=models.CASCADE, related_name="exports")
    saved_response = models.ForeignKey(
        SavedResponse, null=True, blank=True, on_delete=models.SET_NULL, related_name="exports"
    )
    format = models.CharField(max_length=8, choices=Format.choices)
    file = models.FileField(upload_to=_export_path, max_length=500)
    filename = models.CharField(max_length=200, help_text="Sanitised download name.")
    mime_type = models.CharField(max_length=100)
    size_bytes = models.PositiveIntegerField(default=0)
    export_request = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.filename


class DownloadToken(models.Model):
    """A random, expiring capability to download one export without logging in."""

    token = models.CharField(max_length=64, primary_key=True)
    export = models.ForeignKey(Export, on_delete=models.CASCADE, related_name="tokens")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.token[:6]}… → {self.export_id}"
