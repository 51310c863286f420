"""Client keys: how a third-party website's widget authenticates to the public websocket."""

from __future__ import annotations

import uuid

from django.db import models

from bots import crypto

CLIENT_KEY_PREFIX = "igx_"
CLIENT_KEY_HASH_PURPOSE = "voicebot.embed.client_key"


class ClientKey(models.Model):
    """The secret is shown once; only a keyed hash (HMAC-SHA256) and a masked hint are stored.

    `signing_secret_ciphertext` holds the per-key secret a site uses to sign `user_token`s
    (HMAC-SHA256 of the user id and an expiry) so a returning user may read earlier messages.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200, db_index=True)
    hint = models.CharField(max_length=64, blank=True, default="")
    secret_hash = models.CharField(max_length=64, unique=True, editable=False)
    legacy_sha256 = models.BooleanField(
        default=False,
        editable=False,
        help_text="Imported from the reference: secret_hash is its unsalted SHA-256 until the key is next used "
        "(then upgraded to the keyed hash). Never set for keys created here.",
    )
    signing_secret_ciphertext = models.TextField(blank=True, default="", editable=False)
    allowed_origins = models.TextField(
        blank=True,
        default="",
        help_text="Comma-separated origins (https://acme.com, https://*.acme.com). Empty: any origin.",
    )
    allowed_bot_ids = models.JSONField(default=list, blank=True, help_text="Bot UUIDs; empty: every bot.")
    show_turn_details = models.BooleanField(
        default=False,
        help_text="Send the model name, token counts, cost and timings to the widget with each reply "
        "(off: site visitors see only the reply).",
    )
    revoked_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.hint})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def origins(self) -> list[str]:
        return [o.strip() for o in self.allowed_origins.split(",") if o.strip()]

    @staticmethod
    def hash_secret(secret: str) -> str:
        return crypto.keyed_hash(CLIENT_KEY_HASH_PURPOSE, secret)

    def get_signing_secret(self) -> str:
        return crypto.decrypt_text(self.signing_secret_ciphertext)
