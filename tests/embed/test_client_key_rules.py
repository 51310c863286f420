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


def test_ownership_issues_a_browser_secret_and_finds_the_conversation_only_with_it(bot):
    from conversations.models import Conversation
    from embed import ownership

    key, _, _ = _key()
    other_key, _, _ = _key()
    first = ownership.visitor_admit(bot=bot, key=key, external_id="u1")
    assert first.created and not first.may_read_history and first.proof == "browser"
    secret = first.browser_secret_to_issue
    stored = Conversation.objects.get(pk=first.conversation.pk)
    assert stored.test_flag is False and stored.visitor_proof == "browser"
    assert stored.browser_secret_hash and secret not in stored.browser_secret_hash  # only a keyed hash

    again = ownership.visitor_admit(bot=bot, key=key, external_id="u1", browser_secret=secret)
    assert again.conversation == first.conversation and again.may_read_history and again.browser_secret_to_issue is None
    for other in (
        {"external_id": "u1"},
        {"external_id": "u1", "browser_secret": secret + "x"},
        {"external_id": "u2", "browser_secret": secret},
    ):
        admitted = ownership.visitor_admit(bot=bot, key=key, **other)
        assert admitted.created and admitted.conversation != first.conversation, other
    assert ownership.visitor_find(bot=bot, key=other_key, external_id="u1", browser_secret=secret) is None


def test_a_site_user_and_a_browser_never_share_a_conversation(bot):
    from embed import ownership

    key, _, _ = _key()
    browser = ownership.visitor_admit(bot=bot, key=key, external_id="u1")
    token = services.user_token_sign(key, "u1", ttl_seconds=60)
    site = ownership.visitor_admit(bot=bot, key=key, external_id="u1", user_token=token)
    assert site.created and site.proof == "site" and site.conversation != browser.conversation
    assert (
        ownership.visitor_admit(bot=bot, key=key, external_id="u1", user_token=token).conversation == site.conversation
    )
    # a site token wins over a browser secret: the browser conversation is not handed to the site user
    both = ownership.visitor_admit(
        bot=bot, key=key, external_id="u1", user_token=token, browser_secret=browser.browser_secret_to_issue
    )
    assert both.conversation == site.conversation


def test_a_browser_secret_survives_a_secret_key_rotation(bot, settings):
    from embed import ownership

    settings.SECRET_KEY = "old-secret-key-for-test"
    key, _, _ = _key()
    first = ownership.visitor_admit(bot=bot, key=key, external_id="u1")
    settings.SECRET_KEY = "new-secret-key-for-test"
    settings.SECRET_KEY_FALLBACKS = ["old-secret-key-for-test"]
    secret = first.browser_secret_to_issue
    assert ownership.visitor_find(bot=bot, key=key, external_id="u1", browser_secret=secret).conversation == (
        first.conversation
    )
    settings.SECRET_KEY_FALLBACKS = []  # re-hashed on use
    assert ownership.visitor_find(bot=bot, key=key, external_id="u1", browser_secret=secret) is not None


@pytest.mark.parametrize(
    ("origin", "ok"),
    [
        ("https://*.example.com", True),
        ("https://*.shop.example.co.uk", True),
        ("https://*.alice.github.io", True),
        ("https://*.com", False),
        ("https://*.co.uk", False),
        ("https://*.github.io", False),  # a private suffix: anyone can own a subdomain there
        ("https://*.localhost", False),
        ("https://*.10.0.0.1", False),
    ],
)
def test_wildcard_origins_must_name_a_registrable_domain(origin, ok):
    if ok:
        assert _key(allowed_origins=origin)[0].allowed_origins == origin
    else:
        with pytest.raises(services.EmbedInputError, match="registrable domain|not an IP address"):
            _key(allowed_origins=origin)


def test_a_public_suffix_wildcard_stored_before_the_rule_matches_nothing():
    key, _, _ = _key()
    ClientKey.objects.filter(pk=key.pk).update(allowed_origins="https://*.com")
    key.refresh_from_db()
    assert not services.origin_allowed(key, "https://evil.com")


@pytest.mark.parametrize(
    ("value", "placeholder"),
    [
        ("REPLACE-WITH-A-STABLE-USER-ID", True),
        ("user_id", True),
        ("USER_ID", True),
        ("{{ request.user.id }}", True),
        ("${userId}", True),
        ("undefined", True),
        ("null", True),
        ("[object Object]", True),
        ("<user id>", True),
        ("your-user-id", True),
        ("user_1001", False),
        ("alice", False),
        ("42", False),
        ("v-0b7c1f3e-5d7a-4a3b-9a55-2c0a3e9f6b11", False),
    ],
)
def test_placeholder_user_ids(value, placeholder):
    assert services.is_placeholder_user_id(value) is placeholder


def test_touch_records_last_use():
    key, _, _ = _key()
    services.client_key_touch(key)
    assert ClientKey.objects.get(pk=key.pk).last_used_at is not None
