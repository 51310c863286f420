"""Encryption at rest for secrets, and the masked hints shown instead of them.

Why not django-cryptography: 1.1 does not import on Django 5.2, and the `-django5` fork encrypts with one
key derived from SECRET_KEY, so keys cannot be rotated. We use `cryptography`'s MultiFernet directly:
`VOICEBOT_SECRET_KEY` holds one or more comma-separated Fernet keys, the first encrypts and every key
decrypts, and `manage.py voicebot_rotate_secrets` re-encrypts stored rows with the first key.

Secrets live in explicit `*_ciphertext` columns with accessor methods on the models instead of a field
that decrypts on load: a wrong key then gives a clear `SecretError` where the secret is used, not a
crash on every query that touches the table (admin lists, API lists).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

if TYPE_CHECKING:
    from django.db.models import Model

GENERATE_HINT = (
    'Generate one with: python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
)


class SecretError(Exception):
    """A secret cannot be stored or read; the message is safe to show to a staff user."""


class SecretKeyMissing(SecretError):
    pass


class SecretKeyInvalid(SecretError):
    pass


class SecretDecryptError(SecretError):
    pass


@lru_cache(maxsize=8)
def _multifernet(raw_keys: str) -> MultiFernet:
    keys = [k.strip() for k in raw_keys.split(",") if k.strip()]
    if not keys:
        raise SecretKeyMissing(f"VOICEBOT_SECRET_KEY is required to store or use encrypted secrets. {GENERATE_HINT}")
    fernets = []
    for index, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key.encode()))
        except (ValueError, TypeError) as exc:
            raise SecretKeyInvalid(
                f"VOICEBOT_SECRET_KEY entry {index} is not a valid Fernet key (32 url-safe base64 bytes). {GENERATE_HINT}"
            ) from exc
    return MultiFernet(fernets)


def cipher() -> MultiFernet:
    return _multifernet(settings.VOICEBOT_SECRET_KEY or "")


def check_secret_key() -> str | None:
    """Return a problem description, or None when VOICEBOT_SECRET_KEY is usable."""
    try:
        cipher()
    except SecretError as exc:
        return str(exc)
    return None


def encrypt_text(plaintext: str) -> str:
    return cipher().encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt_text(ciphertext: str) -> str:
    if not ciphertext:
        return ""
    try:
        return cipher().decrypt(ciphertext.encode("ascii")).decode("utf-8")
    except InvalidToken as exc:
        raise SecretDecryptError("Failed to decrypt secret (wrong VOICEBOT_SECRET_KEY?)") from exc


def rotate_text(ciphertext: str) -> str:
    """Re-encrypt with the primary key (first in VOICEBOT_SECRET_KEY)."""
    if not ciphertext:
        return ciphertext
    try:
        return cipher().rotate(ciphertext.encode("ascii")).decode("ascii")
    except InvalidToken as exc:
        raise SecretDecryptError("Failed to decrypt secret (wrong VOICEBOT_SECRET_KEY?)") from exc


def mask_secret(secret: str) -> str:
    """Masked preview: short values are all stars; longer ones keep 4 leading and 4 trailing chars.

    The reference kept 6 leading characters (`sk-pro********cdef`); 4 are enough to tell keys apart.
    """
    value = (secret or "").strip()
    if not value:
        return ""
    if len(value) <= 12:
        return "*" * len(value)
    return f"{value[:4]}********{value[-4:]}"


def keyed_hash(purpose: str, value: str, *, key: str | None = None) -> str:
    """HMAC-SHA256 of `value`, keyed by SECRET_KEY (or `key`) and a purpose string, as hex."""
    secret = (key if key is not None else settings.SECRET_KEY).encode()
    derived = hmac.new(secret, purpose.encode(), hashlib.sha256).digest()
    return hmac.new(derived, value.encode("utf-8"), hashlib.sha256).hexdigest()


def keyed_hash_candidates(purpose: str, value: str) -> list[str]:
    """Hashes under SECRET_KEY and each SECRET_KEY_FALLBACKS entry, so Django key rotation keeps lookups working."""
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return [keyed_hash(purpose, value, key=k) for k in keys]


@dataclass(frozen=True)
class EncryptedColumn:
    model: type[Model]
    column: str  # a `*_ciphertext` column
    label: str  # what `voicebot_rotate_secrets` reports, e.g. "provider key secrets"


_encrypted_columns: list[EncryptedColumn] = []


def register_encrypted_column(model: type[Model], column: str, label: str) -> None:
    """Each app names its ciphertext columns from its AppConfig.ready(), so `voicebot_rotate_secrets`
    (in `bots`, which imports no other app) re-encrypts them all."""
    entry = EncryptedColumn(model, column, label)
    if entry not in _encrypted_columns:
        _encrypted_columns.append(entry)


def encrypted_columns() -> tuple[EncryptedColumn, ...]:
    return tuple(_encrypted_columns)
