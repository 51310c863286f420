"""`manage.py voicebot_rotate_secrets` and the VOICEBOT_SECRET_KEY system check."""

from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError

from bots import crypto
from bots.checks import check_voicebot_secret_key
from bots.services import provider_key_create
from embed.services import client_key_create
from integrations.services_tools import tool_create

pytestmark = pytest.mark.django_db


def _decrypts_with(ciphertext: str, key: str) -> bool:
    """True when `ciphertext` decrypts with `key` alone."""
    try:
        Fernet(key.encode()).decrypt(ciphertext.encode())
    except Exception:
        return False
    return True


def test_it_re_encrypts_every_secret_with_the_new_first_key(settings, bot):
    old_key = settings.VOICEBOT_SECRET_KEY
    provider_key = provider_key_create(name="k", secret="sk-rotate-me-1234567890")
    tool = tool_create(
        bot=bot, name="t", url="https://api.example.com", headers_template={"X-Api-Key": "abc-123-secret"}
    )
    client_key, _secret, signing_secret = client_key_create(name="site")
    tool_create(bot=bot, name="no_headers", url="https://api.example.com")

    new_key = Fernet.generate_key().decode()
    settings.VOICEBOT_SECRET_KEY = f"{new_key},{old_key}"
    out = io.StringIO()
    call_command("voicebot_rotate_secrets", stdout=out)

    assert "Re-encrypted 1 provider key secrets." in out.getvalue()
    assert "Re-encrypted 1 integration tool headers." in out.getvalue()
    assert "Re-encrypted 1 client key signing secrets." in out.getvalue()
    provider_key.refresh_from_db()
    tool.refresh_from_db()
    client_key.refresh_from_db()
    for ciphertext in (provider_key.secret_ciphertext, tool.headers_ciphertext, client_key.signing_secret_ciphertext):
        assert _decrypts_with(ciphertext, new_key)
        assert not _decrypts_with(ciphertext, old_key)

    settings.VOICEBOT_SECRET_KEY = new_key  # the old key can now be dropped
    assert provider_key.get_secret() == "sk-rotate-me-1234567890"
    assert tool.get_headers_template() == '{"X-Api-Key": "abc-123-secret"}'
    assert client_key.get_signing_secret() == signing_secret


def test_it_changes_nothing_when_a_secret_cannot_be_decrypted(settings):
    first = provider_key_create(name="first", secret="sk-first-secret-123456")
    before = first.secret_ciphertext
    settings.VOICEBOT_SECRET_KEY = Fernet.generate_key().decode()  # the old key is gone
    with pytest.raises(CommandError, match="wrong VOICEBOT_SECRET_KEY"):
        call_command("voicebot_rotate_secrets", stdout=io.StringIO())
    first.refresh_from_db()
    assert first.secret_ciphertext == before


def test_it_refuses_to_rotate_without_a_usable_key(settings):
    settings.VOICEBOT_SECRET_KEY = ""
    with pytest.raises(CommandError, match="VOICEBOT_SECRET_KEY is required"):
        call_command("voicebot_rotate_secrets", stdout=io.StringIO())


def test_the_system_check_is_quiet_with_a_valid_key():
    assert check_voicebot_secret_key() == []


@pytest.mark.parametrize(("value", "words"), [("", "is required"), ("not-a-fernet-key", "not a valid Fernet key")])
def test_the_system_check_warns_about_a_missing_or_invalid_key(settings, value, words):
    settings.VOICEBOT_SECRET_KEY = value
    warnings = check_voicebot_secret_key()
    assert len(warnings) == 1
    assert warnings[0].id == "voicebot.W001"
    assert words in warnings[0].msg
    assert crypto.check_secret_key() == warnings[0].msg
