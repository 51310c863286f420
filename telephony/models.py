"""Twilio accounts (auth token encrypted at rest, like provider keys) and each bot's phone line.

The auth token is what verifies Twilio's webhooks (`X-Twilio-Signature`), so it is a secret of the
same rank as an API key: stored as MultiFernet ciphertext (`bots.crypto`), shown only as a masked hint,
re-encrypted by `voicebot_rotate_secrets`.
"""

from __future__ import annotations

import uuid

from django.db import models

from bots import crypto
from bots.models import Bot


class TwilioAccount(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    account_sid = models.CharField(max_length=64, help_text="AC… (Twilio console → Account info).")
    auth_token_hint = models.CharField(max_length=64, blank=True, default="")
    auth_token_ciphertext = models.TextField(editable=False, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.account_sid})"

    def set_auth_token(self, token: str) -> None:
        """Encrypt and remember the token (raises `crypto.SecretError` without a usable key)."""
        self.auth_token_ciphertext = crypto.encrypt_text(token.strip())
        self.auth_token_hint = crypto.mask_secret(token)

    def get_auth_token(self) -> str:
        return crypto.decrypt_text(self.auth_token_ciphertext)


class PhoneLine(models.Model):
    """A bot's phone line: which Twilio account signs its calls, whether it answers, whether it records."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    bot = models.OneToOneField(Bot, on_delete=models.CASCADE, related_name="phone_line")
    account = models.ForeignKey(TwilioAccount, on_delete=models.PROTECT, related_name="lines")
    accepts_calls = models.BooleanField(default=True, help_text="Off: callers hear that the line is closed.")
    record_audio = models.BooleanField(
        default=False,
        help_text="Store each call's audio (caller and bot). Callers must be told that the call is recorded.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.bot.name if self.bot_id else '?'} · {self.account.name if self.account_id else '?'}"
