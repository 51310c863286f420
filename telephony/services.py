"""Telephony business rules: accounts, webhook verification, one-time stream tokens, call records.

Views and the Media Streams consumer call these; they hold no rules of their own.

- **Public URL**: Twilio signs the URL *it* requested. Behind a proxy the server sees another host
  (and maybe http), so the URL checked is `VOICEBOT_PUBLIC_BASE_URL` + the request path, never the
  Host header.
- **Stream tokens**: a verified webhook puts a random one-time token into the stream's
  `<Parameter>`s; its SHA-256 is the cache key (Redis when scaled out), with the call it announced,
  and it expires after `VOICEBOT_TWILIO_STREAM_TOKEN_TTL_S`. The stream's `start` consumes it:
  `cache.delete` answers True for one caller only, so a token opens one stream.
- **Call records** live in the conversation's metadata under `phone` (caller, called, call SID,
  stream SID, DTMF digits, start/end, duration), written through the locked metadata merge.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from twilio.request_validator import RequestValidator

from bots import crypto
from bots.models import Bot
from conversations.models import Conversation
from conversations.services import conversation_merge_metadata, conversation_start
from telephony.models import PhoneLine, TwilioAccount

TOKEN_PARAMETER = "token"
_TOKEN_CACHE_PREFIX = "telephony:stream-token:"
MASK = "•••"


class PublicUrlMissing(RuntimeError):
    """VOICEBOT_PUBLIC_BASE_URL is not set: webhooks cannot be verified, stream URLs cannot be built."""


# --- accounts and lines ------------------------------------------------------------------------
@transaction.atomic
def twilio_account_create(*, name: str, account_sid: str, auth_token: str) -> TwilioAccount:
    account = TwilioAccount(name=name.strip(), account_sid=account_sid.strip())
    account.set_auth_token(auth_token)
    account.save()
    return account


@transaction.atomic
def phone_line_save(
    *, bot: Bot, account: TwilioAccount, accepts_calls: bool = True, record_audio: bool = False
) -> PhoneLine:
    line, _ = PhoneLine.objects.update_or_create(
        bot=bot, defaults={"account": account, "accepts_calls": accepts_calls, "record_audio": record_audio}
    )
    return line


def phone_line_for_bot(bot_id: Any) -> PhoneLine | None:
    return PhoneLine.objects.select_related("bot", "account").filter(bot_id=bot_id).first()


# --- URLs ---------------------------------------------------------------------------------------
def public_base_url() -> str:
    base = (settings.VOICEBOT_PUBLIC_BASE_URL or "").rstrip("/")
    if not base:
        raise PublicUrlMissing("Set VOICEBOT_PUBLIC_BASE_URL to the https:// address Twilio reaches (docs/phone.md).")
    return base


def public_url(path: str) -> str:
    return public_base_url() + path


def voice_webhook_url(bot_id: Any) -> str:
    return public_url(f"/telephony/twilio/{bot_id}/voice")


def stream_url(bot_id: Any) -> str:
    """The Media Streams socket as Twilio must reach it: wss:// for an https:// deployment."""
    base = public_base_url()
    scheme, _, rest = base.partition("://")
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/telephony/twilio/{bot_id}/stream"


# --- webhook verification -----------------------------------------------------------------------
def webhook_signature_valid(*, account: TwilioAccount, url: str, params: Any, signature: str) -> bool:
    """Twilio's `X-Twilio-Signature` (HMAC-SHA1 of the URL and the sorted POST parameters with the
    account's auth token). A token that cannot be decrypted verifies nothing."""
    if not signature:
        return False
    try:
        token = account.get_auth_token()
    except crypto.SecretError:
        return False
    return bool(token) and RequestValidator(token).validate(url, params, signature)


def stream_signature_valid(*, bot_id: Any, signature: str) -> bool:
    """Twilio signs the Media Streams websocket handshake like a webhook: `X-Twilio-Signature` over
    the stream URL it was given in the TwiML (no parameters), with the line's auth token. Off with
    VOICEBOT_TWILIO_VERIFY_STREAM_SIGNATURE=false; the one-time token is checked either way."""
    if not settings.VOICEBOT_TWILIO_VERIFY_STREAM_SIGNATURE:
        return True
    line = phone_line_for_bot(bot_id)
    if line is None:
        return False
    try:
        url = stream_url(bot_id)
    except PublicUrlMissing:
        return False
    return webhook_signature_valid(account=line.account, url=url, params={}, signature=signature)


# --- one-time stream tokens ---------------------------------------------------------------------
@dataclass(frozen=True)
class AnnouncedCall:
    """What a verified webhook announced; the stream trusts these values, not its own parameters."""

    bot_id: str
    call_sid: str
    caller: str
    called: str
    account_sid: str


def _token_key(token: str) -> str:
    return _TOKEN_CACHE_PREFIX + hashlib.sha256(token.encode("utf-8")).hexdigest()


def stream_token_issue(call: AnnouncedCall) -> str:
    token = secrets.token_urlsafe(32)
    cache.set(_token_key(token), asdict(call), timeout=settings.VOICEBOT_TWILIO_STREAM_TOKEN_TTL_S)
    return token


async def stream_token_consume(token: Any) -> AnnouncedCall | None:
    """The call a token announced, once; None for an unknown, expired or already used token."""
    if not isinstance(token, str) or not token or len(token) > 200:
        return None
    key = _token_key(token)
    data = await cache.aget(key)
    if not isinstance(data, dict) or not await cache.adelete(key):
        return None
    return AnnouncedCall(**data)


# --- call records -------------------------------------------------------------------------------
def phone_call_start(*, line: PhoneLine, call: AnnouncedCall, stream_sid: str) -> Conversation:
    """A live (non-test) conversation for the call, with the call's record in metadata."""
    conversation = conversation_start(bot=line.bot, test_flag=False, channel=Conversation.Channel.PHONE)
    conversation.bot = line.bot
    conversation_merge_metadata(
        conversation=conversation,
        patch={
            "phone": {
                "caller": call.caller,
                "called": call.called,
                "call_sid": call.call_sid,
                "stream_sid": stream_sid,
                "started_at": timezone.now().isoformat(),
                "recorded": line.record_audio,
            }
        },
    )
    return conversation


def phone_call_dtmf(*, conversation: Conversation, digits: str) -> dict[str, Any]:
    """The digits pressed so far in this call (templates read them as {{.phone.dtmf}})."""
    return conversation_merge_metadata(conversation=conversation, patch={"phone.dtmf": digits})


def phone_call_end(
    *, conversation: Conversation, duration_s: float, reason: str, recording: str = ""
) -> dict[str, Any]:
    patch: dict[str, Any] = {
        "phone.ended_at": timezone.now().isoformat(),
        "phone.duration_s": round(duration_s, 1),
        "phone.end_reason": reason,
    }
    if recording:
        patch["phone.recording"] = recording
    return conversation_merge_metadata(conversation=conversation, patch=patch)


# --- display ------------------------------------------------------------------------------------
def mask_phone_number(number: Any) -> str:
    """A caller number as lists show it: `+1 ••• ••• 1234` (NANP), `+44 ••• 1234` (others);
    anything that is not a phone number (`anonymous`, `client:alice`) is masked whole."""
    text = str(number or "").strip()
    digits = re.sub(r"\D", "", text)
    if len(digits) < 7 or not re.fullmatch(r"\+?[\d\s().-]+", text):
        return MASK if text else ""
    if text.startswith("+1") and len(digits) == 11:
        return f"+1 {MASK} {MASK} {digits[-4:]}"
    if text.startswith("+"):
        return f"+{digits[:2]} {MASK} {digits[-4:]}"
    return f"{MASK} {digits[-4:]}"


def conversation_caller_masked(conversation: Conversation) -> str:
    """The masked caller of a phone conversation, "" for any other conversation."""
    phone = (conversation.metadata or {}).get("phone") if isinstance(conversation.metadata, dict) else None
    return mask_phone_number(phone.get("caller")) if isinstance(phone, dict) else ""


# --- recordings ---------------------------------------------------------------------------------
# A recorded call's file is named by its conversation's id, never by metadata: the model (set_metadata)
# and HTTP tools' mapped fields write metadata, so a name read from there could point at any file under
# MEDIA_ROOT (another bot's recording, an export) for the Studio to serve or for `bot_delete` to remove.
def call_recording_name(conversation_id: Any) -> str:
    """The storage name (under MEDIA_ROOT) of a phone conversation's recording."""
    return f"calls/{conversation_id}.wav"


def call_recording_of(conversation: Conversation) -> str | None:
    """The storage name of this conversation's recorded call, None when it has none."""
    if conversation.channel != Conversation.Channel.PHONE:
        return None
    name = call_recording_name(conversation.pk)
    return name if default_storage.exists(name) else None


def call_recordings_delete_expired(now: datetime) -> int:
    """Retention: delete recordings last written more than VOICEBOT_CALL_RECORDING_RETENTION_DAYS ago
    (0 keeps them until their bot is deleted); the conversation and its metadata stay."""
    days = settings.VOICEBOT_CALL_RECORDING_RETENTION_DAYS
    if days <= 0 or not default_storage.exists("calls"):
        return 0
    cutoff = now - timedelta(days=days)
    deleted = 0
    for filename in default_storage.listdir("calls")[1]:
        name = f"calls/{filename}"
        try:
            if filename.endswith(".wav") and default_storage.get_modified_time(name) < cutoff:
                default_storage.delete(name)
                deleted += 1
        except OSError:
            continue  # gone meanwhile
    return deleted


def call_recordings_of_bot(bot: Bot) -> list[str]:
    """Storage names of the recorded calls of `bot`'s phone conversations (missing ones included:
    deleting a file that is not there is a no-op)."""
    ids = Conversation.objects.filter(bot=bot, channel=Conversation.Channel.PHONE).values_list("pk", flat=True)
    return [call_recording_name(pk) for pk in ids]


def bot_phone_panel(bot: Bot) -> dict[str, Any]:
    """What the Studio's Phone section shows: the line (if any), the webhook URL to paste into the
    Twilio number's settings, and the auth token's masked hint (the token itself is write-only)."""
    line = PhoneLine.objects.select_related("account").filter(bot=bot).first()
    try:
        webhook_url = voice_webhook_url(bot.pk)
    except PublicUrlMissing:
        webhook_url = ""
    return {"line": line, "webhook_url": webhook_url}
