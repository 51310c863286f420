"""Client key services: verification (revocation, key rotation), origins, bots and user tokens."""

from __future__ import annotations

import time

import pytest

from embed import services
from embed.models import ClientKey

pytestmark = pytest.mark.django_db


def _key(**kwargs):
    return services.client_key_create(name="k", **kwargs)


def test_it_verifies_a_secret_and_refuses_unknown_or_revoked_ones():
    key, secret, _ = _key()
    assert services.client_key_verify(secret) == key
    with pytest.raises(services.ClientKeyInvalid):
        services.client_key_verify(secret + "x")
    with pytest.raises(services.ClientKeyInvalid):
        services.client_key_verify("")
    services.client_key_revoke(key)
    with pytest.raises(services.ClientKeyRevoked):
        services.client_key_verify(secret)


def test_it_still_finds_keys_hashed_under_a_previous_secret_key(settings):
    settings.SECRET_KEY = "old-secret-key-for-test"
    key, secret, _ = _key()
    settings.SECRET_KEY = "new-secret-key-for-test"
    settings.SECRET_KEY_FALLBACKS = ["old-secret-key-for-test"]
    assert services.client_key_verify(secret) == key
    # the row was re-hashed under the new key, so it works once the fallback is dropped
    settings.SECRET_KEY_FALLBACKS = []
    assert services.client_key_verify(secret) == key


@pytest.mark.parametrize(
    ("allowed", "origin", "ok"),
    [
        ("", None, True),
        ("", "https://anything.test", True),
        ("https://shop.example.com", "https://shop.example.com", True),
        ("https://shop.example.com", "http://shop.example.com", False),
        ("https://shop.example.com", "https://shop.example.com:8443", False),
        ("https://shop.example.com", None, False),
        ("https://shop.example.com", "null", False),
        ("https://*.example.com", "https://a.example.com", True),
        ("https://*.example.com", "https://a.b.example.com", True),
        ("https://*.example.com", "https://example.com", False),
        ("https://*.example.com", "https://evilexample.com", False),
        ("https://*.example.com", "https://example.com.evil.test", False),
        ("http://127.0.0.1:8080,https://x.test", "http://127.0.0.1:8080", True),
    ],
)
def test_origin_rules(allowed, origin, ok):
    key, _, _ = _key(allowed_origins=allowed)
    assert services.origin_allowed(key, origin) is ok


def test_bot_rules(bot):
    open_key, _, _ = _key()
    narrow_key, _, _ = _key(allowed_bot_ids=[str(bot.id)])
    other = "00000000-0000-0000-0000-000000000001"
    assert services.bot_allowed(open_key, other)
    assert services.bot_allowed(narrow_key, bot.id)
    assert not services.bot_allowed(narrow_key, other)


def test_user_tokens_are_bound_to_user_key_and_expiry():
    key, _, signing_secret = _key()
    other_key, _, _ = _key()
    token = services.user_token_sign(key, "user_1", ttl_seconds=600)
    assert services.user_token_verify(key, "user_1", token)
    assert not services.user_token_verify(key, "user_2", token)
    assert not services.user_token_verify(other_key, "user_1", token)
    assert not services.user_token_verify(key, "user_1", services.user_token_sign(key, "user_1", ttl_seconds=-1))
    assert not services.user_token_verify(key, "user_1", "garbage")
    assert not services.user_token_verify(key, "user_1", None)
    # a site computes it with nothing but the signing secret it was shown once
    import hashlib
    import hmac

    expires = int(time.time()) + 60
    mac = hmac.new(signing_secret.encode(), f"user_1.{expires}".encode(), hashlib.sha256).hexdigest()
    assert services.user_token_verify(key, "user_1", f"{expires}.{mac}")
    # expiries too far ahead are refused
    assert not services.user_token_verify(key, "user_1", services.user_token_sign(key, "user_1", ttl_seconds=10**8))


def test_resume_tokens_are_bound_to_key_and_conversation(bot):
    key, _, _ = _key()
    other_key, _, _ = _key()
    conversation, created = services.embed_conversation_get_or_create(bot=bot, key=key, external_id="u1")
    again, created_again = services.embed_conversation_get_or_create(bot=bot, key=key, external_id="u1")
    assert created and not created_again and again == conversation
    assert conversation.test_flag is False
    other, _ = services.embed_conversation_get_or_create(bot=bot, key=key, external_id="u2")
    token = services.resume_token_issue(key, conversation)
    assert services.resume_token_verify(key, conversation, token)
    assert not services.resume_token_verify(key, other, token)
    assert not services.resume_token_verify(other_key, conversation, token)
    assert not services.resume_token_verify(key, conversation, token + "x")


def test_touch_records_last_use():
    key, _, _ = _key()
    services.client_key_touch(key)
    assert ClientKey.objects.get(pk=key.pk).last_used_at is not None
