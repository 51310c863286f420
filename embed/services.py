"""Client keys and the checks the public socket makes with them.

A client key is what a third-party page puts in its `<script>` tag. It is public by nature (it sits in
page HTML), so it only says *which* site is asking; the origin list and the allowed bots narrow where
and for what it works, and the per-key signing secret lets the site prove *who* a returning user is
(`embed.ownership`: a site-signed `user_token`, or a secret our server issued to the browser).

Secrets are generated here only (never chosen by a caller), shown once, and stored as a keyed hash
(HMAC-SHA256 under SECRET_KEY, with SECRET_KEY_FALLBACKS honoured on lookup) plus a masked hint.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets
import time
import uuid
from collections.abc import Iterable
from datetime import timedelta
from functools import lru_cache
from html import escape
from urllib.parse import urlsplit

from channels.db import database_sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from bots import crypto
from bots.models import Bot
from conversations.models import Conversation, Message
from embed import limits, ownership
from embed.models import CLIENT_KEY_HASH_PURPOSE, CLIENT_KEY_PREFIX, ClientKey

SIGNING_SECRET_PREFIX = "igxs_"
LAST_USED_RESOLUTION = timedelta(seconds=60)
# An open socket's key: verified against the database at connect, then on each message only its state
# token in the shared cache is compared (bumped when the key is revoked, saved or deleted); the
# database is read again when the token changed or went missing, and at least this often.
KEY_RECHECK_SECONDS = 30.0
KEY_STATE_TIMEOUT = 24 * 3600


class ClientKeyError(Exception):
    """A client key cannot be used; the message is safe to show to the public caller."""


class ClientKeyInvalid(ClientKeyError):
    pass


class ClientKeyRevoked(ClientKeyError):
    pass


class EmbedInputError(ValueError):
    """Bad input from a staff user (REST/admin) or a widget; the message says what to fix."""


# The site's proof lives with the ownership rule; these names stay importable from here.
user_token_sign = ownership.user_token_sign
user_token_verify = ownership.user_token_verify


# --- origins and bots ------------------------------------------------------------------------------


def _split_origin(origin: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) of an origin string, or None when it is not a plain scheme://host[:port]."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        return None
    return parts.scheme, parts.hostname.lower(), port


@lru_cache(maxsize=1)
def _public_suffix_list():
    """The Public Suffix List bundled with `publicsuffixlist` (offline), ICANN and private sections."""
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _registrable(domain: str) -> bool:
    """Whether `*.domain` stays inside one owner's domain (not a public suffix, not an IP address)."""
    return "." in domain and not _is_ip(domain) and not _public_suffix_list().is_public(domain)


def _check_wildcard_domain(entry: str, domain: str) -> None:
    """`*.domain` must sit under a registrable domain: `*.example.com` and `*.shop.example.co.uk` are
    fine; `*.com`, `*.co.uk` and private suffixes such as `*.github.io` (anyone can own a subdomain
    there) are refused, as are IP addresses and single labels."""
    if _is_ip(domain):
        raise EmbedInputError(f"allowed_origins: {entry!r}: a wildcard needs a domain name, not an IP address")
    if not _registrable(domain):
        raise EmbedInputError(
            f"allowed_origins: {entry!r} would match every site under the public suffix {domain!r}; "
            "a wildcard must name a registrable domain, like https://*.example.com"
        )


def normalise_origins(value: str | Iterable[str] | None) -> str:
    """Validate an origin allow-list and return it as the stored comma-separated string.

    Accepted entries: `https://shop.example.com`, `http://127.0.0.1:8080`, and the wildcard form
    `https://*.example.com` (any subdomain, at any depth, of example.com; not example.com itself),
    whose domain must be registrable (Public Suffix List: not `*.com`, `*.co.uk`, `*.github.io`).
    """
    if value is None:
        return ""
    items = value.split(",") if isinstance(value, str) else list(value)
    cleaned: list[str] = []
    for raw in items:
        if not isinstance(raw, str):
            raise EmbedInputError("allowed_origins: every entry must be a string")
        entry = raw.strip().rstrip("/")
        if not entry:
            continue
        wildcard = "://*." in entry
        probe = entry.replace("://*.", "://wildcard.", 1) if wildcard else entry
        split = _split_origin(probe)
        if split is None or "*" in probe:
            raise EmbedInputError(
                f"allowed_origins: {raw.strip()!r} is not an origin like https://example.com or https://*.example.com"
            )
        scheme, host, port = split
        host = host.removeprefix("wildcard.") if wildcard else host
        if wildcard:
            _check_wildcard_domain(raw.strip(), host)
        normal = f"{scheme}://{'*.' if wildcard else ''}{host}{f':{port}' if port is not None else ''}"
        if normal not in cleaned:
            cleaned.append(normal)
    return ",".join(cleaned)


def origin_allowed(key: ClientKey, origin: str | None) -> bool:
    """Whether a browser Origin header may use this key. An empty list allows every origin.

    Exact entries compare scheme, host and port; `scheme://*.domain[:port]` matches any subdomain of
    `domain` with the same scheme and port. A missing or `null` Origin fails when a list is set.
    """
    allowed = key.origins
    if not allowed:
        return True
    split = _split_origin(origin or "")
    if split is None:
        return False
    scheme, host, port = split
    for entry in allowed:
        if "://*." in entry:
            entry_scheme, rest = entry.split("://*.", 1)
            domain, _, entry_port = rest.partition(":")
            if (
                scheme == entry_scheme
                and _registrable(domain.lower())  # a key stored before this rule with `*.com` matches nothing
                and host.endswith("." + domain.lower())
                and (str(port) if port is not None else "") == entry_port
            ):
                return True
        elif _split_origin(entry) == split:
            return True
    return False


def normalise_bot_ids(value: Iterable[str] | None) -> list[str]:
    """Validate a list of bot UUIDs (each must name an existing bot); returns canonical strings."""
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise EmbedInputError("allowed_bot_ids: must be a list of bot ids")
    ids: list[str] = []
    for raw in value:
        try:
            ids.append(str(uuid.UUID(str(raw))))
        except ValueError:
            raise EmbedInputError(f"allowed_bot_ids: {raw!r} is not a bot id") from None
    known = {str(pk) for pk in Bot.objects.filter(pk__in=ids).values_list("pk", flat=True)}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise EmbedInputError(f"allowed_bot_ids: unknown bot {unknown[0]}")
    return list(dict.fromkeys(ids))


def bot_allowed(key: ClientKey, bot_id: uuid.UUID | str) -> bool:
    """Whether this key may talk to the bot. An empty list allows every bot."""
    allowed = {str(b).lower() for b in key.allowed_bot_ids or []}
    return not allowed or str(bot_id).lower() in allowed


# --- client keys -----------------------------------------------------------------------------------


@transaction.atomic
def client_key_create(
    *,
    name: str,
    allowed_origins: str | Iterable[str] | None = "",
    allowed_bot_ids: Iterable[str] | None = None,
    show_turn_details: bool = False,
) -> tuple[ClientKey, str, str]:
    """Create a key; returns (key, secret, signing_secret). Both secrets are shown to the caller once."""
    name = (name or "").strip()
    if not name:
        raise EmbedInputError("Name is required")
    secret = CLIENT_KEY_PREFIX + secrets.token_urlsafe(32)
    signing_secret = SIGNING_SECRET_PREFIX + secrets.token_urlsafe(32)
    key = ClientKey(
        name=name[:200],
        hint=crypto.mask_secret(secret),
        secret_hash=ClientKey.hash_secret(secret),
        signing_secret_ciphertext=crypto.encrypt_text(signing_secret),
        allowed_origins=normalise_origins(allowed_origins),
        allowed_bot_ids=normalise_bot_ids(allowed_bot_ids),
        show_turn_details=bool(show_turn_details),
    )
    key.save()
    return key, secret, signing_secret


@transaction.atomic
def client_key_update(
    key: ClientKey,
    *,
    name: str | None = None,
    allowed_origins: str | Iterable[str] | None = None,
    allowed_bot_ids: Iterable[str] | None = None,
    show_turn_details: bool | None = None,
) -> ClientKey:
    """Change the name, origins, bots or turn-detail setting of a key (None leaves a field as it is)."""
    if name is not None:
        if not name.strip():
            raise EmbedInputError("Name is required")
        key.name = name.strip()[:200]
    if allowed_origins is not None:
        key.allowed_origins = normalise_origins(allowed_origins)
    if allowed_bot_ids is not None:
        key.allowed_bot_ids = normalise_bot_ids(allowed_bot_ids)
    if show_turn_details is not None:
        key.show_turn_details = bool(show_turn_details)
    key.save()
    return key


def client_key_list(*, include_revoked: bool = False):
    """Client keys, newest first; revoked ones only when asked for."""
    keys = ClientKey.objects.order_by("-created_at")
    return keys if include_revoked else keys.filter(revoked_at__isnull=True)


def client_key_revoke(key: ClientKey) -> ClientKey:
    """Revoke a key (idempotent). Its conversations stay stored; the key stops working at once."""
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at", "updated_at"])
    client_key_state_bump(key)  # open sockets re-check the key at their next message, in every process
    return key


# --- a key's state token: what an open socket compares on each message ------------------------------


def _key_state_name(secret_hash: str) -> str:
    # Named by the secret's keyed hash, which a socket knows before it reads the row, so it can read
    # the token first and the row second: a revocation committed in between changes the token.
    return f"embed:key-state:{secret_hash}"


def client_key_state_bump(key: ClientKey) -> None:
    """Give the key a new state token, now and when the current transaction commits (a socket that
    re-read the row before the commit would otherwise keep the new token with the old row)."""

    def bump() -> None:
        cache.set(_key_state_name(key.secret_hash), uuid.uuid4().hex, timeout=KEY_STATE_TIMEOUT)

    bump()
    transaction.on_commit(bump)


def _client_key_changed(sender, instance: ClientKey, **kwargs) -> None:
    client_key_state_bump(instance)


post_save.connect(_client_key_changed, sender=ClientKey, dispatch_uid="embed.client_key_state")
post_delete.connect(_client_key_changed, sender=ClientKey, dispatch_uid="embed.client_key_state_delete")


def _client_key_state(secret_hash: str) -> str:
    """The key's current state token, made when missing (a lost token only costs a database read)."""
    name = _key_state_name(secret_hash)
    state = cache.get(name)
    if state is None:
        fresh = uuid.uuid4().hex
        state = fresh if cache.add(name, fresh, timeout=KEY_STATE_TIMEOUT) else cache.get(name, "")
    return state


def client_key_verify(secret: str | None) -> ClientKey:
    """The active key for a presented secret; raises ClientKeyInvalid / ClientKeyRevoked.

    The lookup tries the hash under SECRET_KEY and every SECRET_KEY_FALLBACKS entry, and re-hashes a
    row found under a fallback so rotation completes itself as keys are used. A key imported from the
    reference is found once by its legacy SHA-256 and upgraded (`_legacy_client_key`).
    """
    value = (secret or "").strip()
    if not value or len(value) > 200:
        raise ClientKeyInvalid("Invalid client key")
    candidates = crypto.keyed_hash_candidates(CLIENT_KEY_HASH_PURPOSE, value)
    key = None
    if value.startswith(CLIENT_KEY_PREFIX):
        key = ClientKey.objects.filter(secret_hash__in=candidates, legacy_sha256=False).first()
    if key is None:
        key = _legacy_client_key(value)
    if key is None:
        raise ClientKeyInvalid("Invalid client key")
    if key.revoked_at is not None:
        raise ClientKeyRevoked("Client key revoked")
    if key.secret_hash != candidates[0]:
        ClientKey.objects.filter(pk=key.pk).update(secret_hash=candidates[0])
        key.secret_hash = candidates[0]
    return key


def _legacy_client_key(value: str) -> ClientKey | None:
    """A key imported from the reference (`legacy_sha256`), found by its unsalted SHA-256 and upgraded
    in place to the keyed hash on this first use, so the legacy hash verifies once. Keys created here
    never have the marker, so a SHA-256 of their secret opens nothing. The reference let callers
    choose their secret, so an imported one need not start with `igx_`."""
    legacy = hashlib.sha256(value.encode("utf-8")).hexdigest()
    if not ClientKey.objects.filter(secret_hash=legacy, legacy_sha256=True).exists():
        return None
    with transaction.atomic():
        key = ClientKey.objects.select_for_update().filter(secret_hash=legacy, legacy_sha256=True).first()
        if key is None:  # another request upgraded it meanwhile
            return ClientKey.objects.filter(secret_hash=ClientKey.hash_secret(value), legacy_sha256=False).first()
        key.secret_hash = ClientKey.hash_secret(value)
        key.legacy_sha256 = False
        key.hint = crypto.mask_secret(value)
        key.save(update_fields=["secret_hash", "legacy_sha256", "hint", "updated_at"])
    return key


def client_key_touch(key: ClientKey) -> None:
    """Record use, at most once a minute per key (no write on every message)."""
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        ClientKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now


# --- the Studio's ready-to-paste snippet ---------------------------------------------------------


def widget_snippet(*, base_url: str, bot_id: str, secret: str) -> str:
    """The `<script>` tag a site pastes as is. No user id: the widget makes a random visitor id of its
    own and the server binds the conversation to that browser; a site with signed-in users adds
    `data-user-conversation-id` and a signed `data-user-token` (docs/embed.md)."""
    origin = escape(base_url.rstrip("/"))
    return (
        f'<script src="{origin}/public/widget.js" data-bot-id="{escape(bot_id)}" data-api-key="{escape(secret)}" '
        f'data-title="Chat with us" async></script>'
    )


def widget_snippet_for_key(*, base_url: str, key: ClientKey, secret: str) -> str:
    """The snippet for a new key: its first allowed bot, else the first bot, else a placeholder id."""
    bot_id = (key.allowed_bot_ids or [None])[0] or Bot.objects.order_by("name").values_list("pk", flat=True).first()
    return widget_snippet(base_url=base_url, bot_id=str(bot_id or "YOUR-BOT-ID"), secret=secret)


# --- conversations ---------------------------------------------------------------------------------


PLACEHOLDER_USER_IDS = frozenset(
    {
        "undefined",
        "null",
        "none",
        "nil",
        "nan",
        "[object object]",
        "user_id",
        "userid",
        "user_conversation_id",
        "userconversationid",
        "your_user_id",
        "stable_user_id",
        "a_stable_user_id",
        "user_id_here",
        "replace_me",
        "changeme",
        "change_me",
        "placeholder",
    }
)
_PLACEHOLDER_SHAPES = re.compile(
    r"^(replace|insert|your)[_ ]?(with|here|the)?[_ ]|\{\{|\}\}|\{%|%\}|\$\{|^<.*>$|^\[.*\]$|^%s$|^:\w+$",
    re.IGNORECASE,
)


def is_placeholder_user_id(value: str) -> bool:
    """A user id that is clearly a template's or a snippet's placeholder, never a real visitor's.

    Pasting `REPLACE-WITH-A-STABLE-USER-ID` (or an unrendered `{{ user.id }}`, `undefined`, …) made
    every visitor of a site share one id.
    """
    text = value.strip().strip("'\"")
    normal = re.sub(r"[-\s]+", "_", text.lower())
    return normal in PLACEHOLDER_USER_IDS or bool(_PLACEHOLDER_SHAPES.search(text.replace("-", "_")))


def validate_user_conversation_id(value: str | None) -> str:
    value = (value or "").strip()
    if not value:
        raise EmbedInputError("Missing key or user_conversation_id")
    if is_placeholder_user_id(value):
        raise EmbedInputError(
            f"user_conversation_id {value[:60]!r} is a placeholder: pass your signed-in user's own id, "
            "or leave data-user-conversation-id out and the widget makes a visitor id of its own"
        )
    if len(value) > settings.VOICEBOT_EMBED_MAX_USER_ID_CHARS:
        raise EmbedInputError(
            f"user_conversation_id is longer than {settings.VOICEBOT_EMBED_MAX_USER_ID_CHARS} characters"
        )
    if any(ord(c) < 32 for c in value):
        raise EmbedInputError("user_conversation_id has control characters")
    return value


def conversation_history(conversation: Conversation, *, limit: int | None = None) -> list[dict]:
    """The user and assistant messages a returning user sees (tool rows are never exposed)."""
    limit = limit or settings.VOICEBOT_EMBED_HISTORY_LIMIT
    rows = (
        Message.objects.filter(conversation=conversation, role__in=[Message.Role.USER, Message.Role.ASSISTANT])
        .exclude(content="")
        .order_by("-created_at")[:limit]
    )
    return [
        {"role": m.role, "text": m.content, "created_at": m.created_at.isoformat(), "id": str(m.id)}
        for m in reversed(list(rows))
    ]


def conversation_has_messages(conversation: Conversation) -> bool:
    return Message.objects.filter(conversation=conversation).exists()


# --- the public socket's checks --------------------------------------------------------------------


class Refusal(Exception):
    """A request the public socket refuses: sent as an `error` event, then closed when `close_code` is set."""

    def __init__(self, message: str, *, code: str, close_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.close_code = close_code


class KeyGrant:
    """An open socket's verified key: the secret it presented, the key row, the state token read
    before that row, and when the row was read (`public_admit_async` compares the token per message)."""

    __slots__ = ("secret", "secret_hash", "key", "state", "verified_at")

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.secret_hash = ClientKey.hash_secret((secret or "").strip())
        self.key: ClientKey | None = None
        self.state = ""
        self.verified_at = 0.0

    def verify(self) -> ClientKey:
        """Read the token, then the row (sync, in the database thread); raises Refusal (4401)."""
        state = _client_key_state(self.secret_hash)
        try:
            key = client_key_verify(self.secret)
        except ClientKeyError as exc:
            raise Refusal(str(exc), code="invalid_key", close_code=4401) from exc
        self.key, self.state, self.verified_at = key, state, time.monotonic()
        return key


def public_connect(
    *, secret: str | None, user_conversation_id: str | None, origin: str | None, bot_id: uuid.UUID
) -> tuple[KeyGrant, Bot, str]:
    """The connect-time checks, in the reference's order and with its close codes.

    1. key or user_conversation_id missing (or the id unusable): 4400; 2. invalid or revoked key: 4401;
    3. Origin not in the key's list: 4403; 4. bot not allowed for the key: 4403; then (new) an
    unknown bot: 4404. Returns (the socket's KeyGrant, bot, user_conversation_id).
    """
    if not (secret or "").strip() or not (user_conversation_id or "").strip():
        raise Refusal("Missing key or user_conversation_id", code="bad_request", close_code=4400)
    try:
        external_id = validate_user_conversation_id(user_conversation_id)
    except EmbedInputError as exc:
        raise Refusal(str(exc), code="bad_request", close_code=4400) from exc
    grant = KeyGrant(secret or "")
    key = grant.verify()
    if not origin_allowed(key, origin):
        raise Refusal("Origin not allowed", code="origin_not_allowed", close_code=4403)
    if not bot_allowed(key, bot_id):
        raise Refusal("Bot not allowed for this key", code="bot_not_allowed", close_code=4403)
    bot = Bot.objects.filter(pk=bot_id).first()
    if bot is None:
        raise Refusal("Bot not found", code="not_found", close_code=4404)
    client_key_touch(key)
    return grant, bot, external_id


def public_admit(*, secret: str, bot: Bot, external_id: str, conversation_id: uuid.UUID | None = None) -> ClientKey:
    """Per-message checks: the key is still valid (revocation takes effect at once) and within its
    rate limits, per key and per conversation (counted in the cache, so across processes). Before the
    socket has a conversation, its messages count under (key, bot, user id)."""
    try:
        key = client_key_verify(secret)
    except ClientKeyError as exc:
        raise Refusal(str(exc), code="invalid_key", close_code=4401) from exc
    per_key = settings.VOICEBOT_EMBED_RATE_PER_KEY_PER_MINUTE
    if limits.rate_limit_exceeded("key", str(key.pk), per_key):
        raise Refusal(f"Rate limit exceeded: at most {per_key} messages per minute for this key", code="rate_limited")
    per_conversation = settings.VOICEBOT_EMBED_RATE_PER_CONVERSATION_PER_MINUTE
    ident = (
        str(conversation_id)
        if conversation_id
        else hashlib.sha256(f"{key.pk}:{bot.pk}:{external_id}".encode()).hexdigest()
    )
    if limits.rate_limit_exceeded("conversation", ident, per_conversation):
        raise Refusal(
            f"Rate limit exceeded: at most {per_conversation} messages per minute for this conversation",
            code="rate_limited",
        )
    client_key_touch(key)
    return key


def _grant_refresh(grant: KeyGrant) -> ClientKey:
    key = grant.verify()
    client_key_touch(key)
    return key


async def public_admit_async(
    grant: KeyGrant, *, bot: Bot, external_id: str, conversation_id: uuid.UUID | None = None
) -> ClientKey:
    """`public_admit` for an open socket, without a database hop on most messages: the key row is
    read again only when its state token changed (revoked, saved, deleted: in any process sharing the
    cache) or went missing, or after KEY_RECHECK_SECONDS; the rate-limit counters use the cache's
    async API (answered on the event loop by bots.cache_backends). Same checks, same order, same
    refusals as `public_admit`."""
    key = grant.key
    state = await cache.aget(_key_state_name(grant.secret_hash))
    if key is None or state != grant.state or time.monotonic() - grant.verified_at >= KEY_RECHECK_SECONDS:
        key = await database_sync_to_async(_grant_refresh)(grant)
    per_key = settings.VOICEBOT_EMBED_RATE_PER_KEY_PER_MINUTE
    if await limits.arate_limit_exceeded("key", str(key.pk), per_key):
        raise Refusal(f"Rate limit exceeded: at most {per_key} messages per minute for this key", code="rate_limited")
    per_conversation = settings.VOICEBOT_EMBED_RATE_PER_CONVERSATION_PER_MINUTE
    ident = (
        str(conversation_id)
        if conversation_id
        else hashlib.sha256(f"{key.pk}:{bot.pk}:{external_id}".encode()).hexdigest()
    )
    if await limits.arate_limit_exceeded("conversation", ident, per_conversation):
        raise Refusal(
            f"Rate limit exceeded: at most {per_conversation} messages per minute for this conversation",
            code="rate_limited",
        )
    return key


class StartResult:
    """What `start` found: the admission (conversation, secret to issue), whether to greet, the history."""

    def __init__(self, admission: ownership.Admission, *, greet: bool, history: list | None) -> None:
        self.admission = admission
        self.conversation = admission.conversation
        self.resume_token = admission.browser_secret_to_issue
        self.greet = greet
        self.history = history


def public_start(
    *, key: ClientKey, bot: Bot, external_id: str, user_token: str | None, resume_token: str | None
) -> StartResult:
    """Admit the caller (embed.ownership), then decide greeting and history in the same thread hop.

    A new conversation is greeted (as is an old one with no messages, like the reference); the
    history is replayed only to a caller that proved the conversation is theirs.
    """
    admission = ownership.visitor_admit(
        bot=bot, key=key, external_id=external_id, user_token=user_token, browser_secret=resume_token
    )
    conversation = admission.conversation
    return StartResult(
        admission,
        greet=admission.created or not conversation_has_messages(conversation),
        history=conversation_history(conversation) if admission.may_read_history else None,
    )


def public_history(
    *,
    key: ClientKey,
    bot: Bot,
    external_id: str,
    conversation: Conversation | None,
    user_token: str | None,
    resume_token: str | None,
) -> tuple[Conversation, list[dict]]:
    """The `history` message: (conversation, earlier messages).

    With a proof in the message (or the socket URL's user_token), the conversation it proves; without
    one, the conversation this socket was already admitted to. Anything else is `forbidden`.
    """
    if user_token or resume_token:
        admission = ownership.visitor_find(
            bot=bot, key=key, external_id=external_id, user_token=user_token, browser_secret=resume_token
        )
        if admission is None:
            raise Refusal("History needs a valid user_token or resume_token", code="forbidden")
        conversation = admission.conversation
    elif conversation is None:
        raise Refusal("History needs a valid user_token or resume_token", code="forbidden")
    return conversation, conversation_history(conversation)
