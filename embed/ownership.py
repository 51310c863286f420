"""Who may continue a widget visitor's conversation: the one rule every visitor-facing transport calls.

A client key is public and an origin list is not authentication, so a user id (the widget's
`user_conversation_id`) is only a *label*. A conversation is continued (chat, start with history,
history) only by a caller that proves it is theirs, in one of two ways:

- **site**: a `user_token` the site signed for that user id (HMAC-SHA256 of `"<user id>.<expiry>"`
  with the client key's signing secret). The conversation is the site user's proven conversation,
  one per (bot, client key, user id), found again on any device with a fresh token.
- **browser**: a random secret our server issued to the browser that created the conversation (the
  widget keeps it in localStorage and sends it back as `resume_token`). Only a keyed hash of it is
  stored on the conversation. It opens that conversation while the conversation has been active
  within VOICEBOT_EMBED_RESUME_TOKEN_MAX_AGE_DAYS.

A caller with neither (a bare user id, a wrong or expired secret, an invalid token) is not refused:
it gets a NEW conversation of its own, with a new browser secret, so the widget keeps working and
nobody reads or writes into someone else's conversation. Proofs never cross over: a browser
conversation is never handed to a site-token holder nor the other way round, so starting first
with someone's user id claims nothing; conversations made before this rule (`visitor_proof=""`)
are never continued by a visitor.

Studio, REST and the mic loop are staff-owned and do not call this. These are plain functions over
the database with no transport state, for the public socket today and a conversation session later.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from bots import crypto
from bots.models import Bot
from conversations.models import Conversation
from conversations.services import conversation_start
from embed.models import ClientKey

BROWSER_SECRET_PREFIX = "igxb_"
BROWSER_SECRET_HASH_PURPOSE = "voicebot.embed.browser_secret"
MAX_PROOF_CHARS = 200

Proof = Conversation.VisitorProof


@dataclass(frozen=True)
class Admission:
    """What `visitor_admit` decided for one caller.

    `conversation`: the caller's own conversation. `created`: it was made just now.
    `proof`: `site` or `browser`. `browser_secret_to_issue`: a new secret the transport must hand to
    the browser (only when a browser conversation was created; it is never stored in clear and
    cannot be shown again). `may_read_history`: the caller proved it owns an existing conversation,
    so its earlier messages may be replayed.
    """

    conversation: Conversation
    created: bool
    proof: str
    browser_secret_to_issue: str | None
    may_read_history: bool


# --- the site's proof: user tokens ----------------------------------------------------------------


def _user_token_mac(signing_secret: str, user_id: str, expires: int) -> str:
    return hmac.new(signing_secret.encode(), f"{user_id}.{expires}".encode(), hashlib.sha256).hexdigest()


def user_token_sign(key: ClientKey, user_id: str, *, ttl_seconds: int = 3600, now: float | None = None) -> str:
    """`<expiry unix seconds>.<hex HMAC-SHA256(signing_secret, "<user_id>.<expiry>")>`.

    This is what a site's backend computes (any language) for its logged-in user; the widget passes
    it as `data-user-token`.
    """
    expires = int((now if now is not None else time.time()) + ttl_seconds)
    return f"{expires}.{_user_token_mac(key.get_signing_secret(), user_id, expires)}"


def user_token_verify(key: ClientKey, user_id: str, token: str | None, *, now: float | None = None) -> bool:
    """True when `token` was signed with this key's signing secret for `user_id` and has not expired.

    Expiries further ahead than VOICEBOT_EMBED_USER_TOKEN_MAX_TTL_DAYS are refused, so a leaked
    token cannot be made to last for ever.
    """
    if not token or not isinstance(token, str) or len(token) > MAX_PROOF_CHARS or not user_id:
        return False
    expires_text, _, mac = token.partition(".")
    if not expires_text.isdigit() or not mac:
        return False
    expires = int(expires_text)
    current = now if now is not None else time.time()
    if expires < current or expires > current + settings.VOICEBOT_EMBED_USER_TOKEN_MAX_TTL_DAYS * 86400:
        return False
    try:
        expected = _user_token_mac(key.get_signing_secret(), user_id, expires)
    except crypto.SecretError:
        return False
    return hmac.compare_digest(expected, mac.lower())


# --- the browser's proof: a secret we issued --------------------------------------------------------


def _browser_secret_candidates(secret: str | None) -> list[str]:
    """Keyed hashes of a presented secret under SECRET_KEY and its fallbacks ([] when malformed)."""
    if not isinstance(secret, str) or not secret.startswith(BROWSER_SECRET_PREFIX) or len(secret) > MAX_PROOF_CHARS:
        return []
    return crypto.keyed_hash_candidates(BROWSER_SECRET_HASH_PURPOSE, secret)


def _site_conversation(*, bot: Bot, key: ClientKey, external_id: str, create: bool) -> tuple[Conversation | None, bool]:
    lookup = {"bot": bot, "client_key": key, "external_id": external_id, "visitor_proof": Proof.SITE}
    existing = Conversation.objects.filter(**lookup).first()
    if existing is not None or not create:
        return existing, False
    try:
        with transaction.atomic():
            conversation = _start(bot=bot, key=key, external_id=external_id, proof=Proof.SITE, secret_hash="")
        return conversation, True
    except IntegrityError:  # another socket of the same user created it first
        return Conversation.objects.get(**lookup), False


def _browser_conversation(*, bot: Bot, key: ClientKey, external_id: str, secret: str | None) -> Conversation | None:
    candidates = _browser_secret_candidates(secret)
    if not candidates:
        return None
    since = timezone.now() - timedelta(days=settings.VOICEBOT_EMBED_RESUME_TOKEN_MAX_AGE_DAYS)
    conversation = Conversation.objects.filter(
        bot=bot,
        client_key=key,
        external_id=external_id,
        visitor_proof=Proof.BROWSER,
        browser_secret_hash__in=candidates,
        updated_at__gte=since,
    ).first()
    if conversation is not None and conversation.browser_secret_hash != candidates[0]:
        # found under a SECRET_KEY_FALLBACKS entry: re-hash so the rotation completes itself
        Conversation.objects.filter(pk=conversation.pk).update(browser_secret_hash=candidates[0])
        conversation.browser_secret_hash = candidates[0]
    return conversation


def _start(*, bot: Bot, key: ClientKey, external_id: str, proof: str, secret_hash: str) -> Conversation:
    """A live conversation owned by `proof` (conversation_start, then the ownership columns)."""
    conversation = conversation_start(
        bot=bot, test_flag=False, external_id=external_id, client_key=key, channel=Conversation.Channel.WIDGET
    )
    Conversation.objects.filter(pk=conversation.pk).update(visitor_proof=proof, browser_secret_hash=secret_hash)
    conversation.visitor_proof = proof
    conversation.browser_secret_hash = secret_hash
    return conversation


# --- the rule -------------------------------------------------------------------------------------


def visitor_find(
    *, bot: Bot, key: ClientKey, external_id: str, user_token: str | None = None, browser_secret: str | None = None
) -> Admission | None:
    """The caller's existing conversation if it proves one, else None (never creates anything).

    A valid `user_token` for `external_id` decides (the site's proven conversation, if it exists);
    otherwise a `browser_secret` opens the browser conversation it was issued for, under this bot,
    key and user id only.
    """
    if user_token_verify(key, external_id, user_token):
        conversation, _ = _site_conversation(bot=bot, key=key, external_id=external_id, create=False)
        proof = Proof.SITE
    else:
        conversation = _browser_conversation(bot=bot, key=key, external_id=external_id, secret=browser_secret)
        proof = Proof.BROWSER
    if conversation is None:
        return None
    return Admission(conversation, created=False, proof=proof, browser_secret_to_issue=None, may_read_history=True)


def visitor_admit(
    *, bot: Bot, key: ClientKey, external_id: str, user_token: str | None = None, browser_secret: str | None = None
) -> Admission:
    """The conversation a widget visitor may continue, created when it has none (see the module docstring).

    1. a valid site `user_token` for `external_id`: the site user's conversation (created on first use);
    2. else a `browser_secret` that matches a browser conversation of this bot, key and user id: that one;
    3. else a new browser conversation and a new secret to hand to the browser.
    Never an error for a missing or wrong proof, and never someone else's conversation.
    """
    if user_token_verify(key, external_id, user_token):
        conversation, created = _site_conversation(bot=bot, key=key, external_id=external_id, create=True)
        return Admission(
            conversation, created=created, proof=Proof.SITE, browser_secret_to_issue=None, may_read_history=not created
        )
    found = _browser_conversation(bot=bot, key=key, external_id=external_id, secret=browser_secret)
    if found is not None:
        return Admission(found, created=False, proof=Proof.BROWSER, browser_secret_to_issue=None, may_read_history=True)
    secret = BROWSER_SECRET_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        conversation = _start(
            bot=bot,
            key=key,
            external_id=external_id,
            proof=Proof.BROWSER,
            secret_hash=crypto.keyed_hash(BROWSER_SECRET_HASH_PURPOSE, secret),
        )
    return Admission(
        conversation, created=True, proof=Proof.BROWSER, browser_secret_to_issue=secret, may_read_history=False
    )
