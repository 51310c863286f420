"""Writes to conversations and messages. Every entry point (engine, Studio, API, voice pipeline) goes
through these, so a conversation's `updated_at`, metadata and rolled-up metrics stay consistent.

All functions are synchronous ORM code (call them through `sync_to_async` from async code) and each
is one transaction: a cancelled turn never leaves half of a write behind.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connections, router, transaction
from django.utils import timezone

from bots.models import Bot
from conversations.models import Conversation, Message
from conversations.templating import merge_metadata

TIMING_FIELDS = ("asr", "llm_ttfb", "llm_total", "tts_first_audio", "total")
MESSAGE_FIELDS = {
    "input_tokens_est",
    "output_tokens_est",
    "cost_usd_est",
    "asr_ms",
    "llm_ttfb_ms",
    "llm_total_ms",
    "tts_first_audio_ms",
    "total_ms",
    "audio",  # a stored voice recording's storage name (`voice_audio_save`)
}


class _TurnSQL:
    """The statements of a turn's writes, built once per database connection alias from the models'
    metadata (table and column names quoted by the backend), so a turn runs them without compiling
    a query or building expression objects (Django's INSERT and F()-expression UPDATE compile cost
    more CPU than SQLite takes to run them: docs/performance.md)."""

    _built: dict[str, _TurnSQL] = {}

    def __init__(self, connection: Any) -> None:
        quote = connection.ops.quote_name
        self.message_fields = list(Message._meta.concrete_fields)
        self.insert_message = "INSERT INTO {} ({}) VALUES ({})".format(
            quote(Message._meta.db_table),
            ", ".join(quote(field.column) for field in self.message_fields),
            ", ".join(["%s"] * len(self.message_fields)),
        )
        meta = Conversation._meta
        sums = ("llm_input_tokens_est", "llm_output_tokens_est", "cost_usd_est")
        columns = [f"{quote(meta.get_field(name).column)} = {quote(meta.get_field(name).column)} + %s" for name in sums]
        columns += [f"{quote(meta.get_field(name).column)} = %s" for name in ("updated_at", *_LAST_FIELDS)]
        self.update_conversation = "UPDATE {} SET {} WHERE {} = %s".format(
            quote(meta.db_table), ", ".join(columns), quote(meta.pk.column)
        )
        self.updated_at = meta.get_field("updated_at")
        self.conversation_pk = meta.pk

    @classmethod
    def of(cls, connection: Any) -> _TurnSQL:
        built = cls._built.get(connection.alias)
        if built is None:
            built = cls._built[connection.alias] = cls(connection)
        return built


class HistoryRow(NamedTuple):
    """One stored message as the model's history needs it (read-only)."""

    role: str
    content: str
    tool_name: str
    tool_kind: str
    tool_call_id: str


_LAST_FIELDS = tuple(f"last_{name}_ms" for name in TIMING_FIELDS)


class _TurnReads:
    """A turn's two reads (the conversation's metadata, its newest history rows) compiled once per
    connection alias by Django's own SQL compiler and then run with each turn's parameter: the same
    SQL the ORM sends, without rebuilding and compiling the queryset every turn (~0.65 ms CPU a turn
    on this machine, more under load: docs/performance.md)."""

    HISTORY_COLUMNS = ("role", "content", "tool_name", "tool_kind", "tool_call_id")
    _built: dict[tuple[str, int], _TurnReads] = {}

    def __init__(self, alias: str, history_limit: int) -> None:
        probe = uuid.UUID(int=0)
        metadata = Conversation.objects.filter(pk=probe).order_by().values_list("metadata", flat=True)[:1]
        rows = (
            Message.objects.filter(conversation_id=probe)
            .order_by("-created_at")
            .values_list(*self.HISTORY_COLUMNS)[:history_limit]
        )
        self.metadata_sql = self._compiled(metadata, alias)
        self.history_sql = self._compiled(rows, alias)
        self.metadata_field = Conversation._meta.get_field("metadata")
        self.pk_field = Conversation._meta.pk

    @staticmethod
    def _compiled(queryset: Any, alias: str) -> str:
        sql, params = queryset.query.get_compiler(using=alias).as_sql()
        assert len(params) == 1, "a turn read takes exactly one parameter (the conversation's id)"
        return sql

    @classmethod
    def of(cls, alias: str, history_limit: int) -> _TurnReads:
        built = cls._built.get((alias, history_limit))
        if built is None:
            built = cls._built[(alias, history_limit)] = cls(alias, history_limit)
        return built


def turn_reads(conversation_id: Any, *, history_limit: int, with_history: bool) -> tuple[dict, list] | None:
    """(metadata, history rows oldest first as named tuples) of a conversation, None when it is gone."""
    alias = router.db_for_read(Conversation)
    connection = connections[alias]
    reads = _TurnReads.of(alias, history_limit)
    key = reads.pk_field.get_db_prep_value(conversation_id, connection)
    with connection.cursor() as cursor:
        cursor.execute(reads.metadata_sql, [key])
        found = cursor.fetchone()
        if found is None:
            return None
        metadata = reads.metadata_field.from_db_value(found[0], None, connection)
        rows: list = []
        if with_history:
            cursor.execute(reads.history_sql, [key])
            rows = [HistoryRow(*row) for row in cursor.fetchall()]
            rows.reverse()
    return (metadata if isinstance(metadata, dict) else {}), rows


def _insert_message(message: Message) -> Message:
    """INSERT one message as `Message.save()` would (defaults, auto_now_add), without compiling SQL."""
    connection = connections[router.db_for_write(Message)]
    sql = _TurnSQL.of(connection)
    params = [field.get_db_prep_save(field.pre_save(message, True), connection) for field in sql.message_fields]
    with connection.cursor() as cursor:
        cursor.execute(sql.insert_message, params)
    message._state.adding = False
    message._state.db = connection.alias
    return message


def conversation_start(
    *,
    bot: Bot,
    test_flag: bool = True,
    external_id: str | None = None,
    client_key: Any = None,
    channel: str = Conversation.Channel.STUDIO,
) -> Conversation:
    return Conversation.objects.create(
        bot=bot, test_flag=test_flag, external_id=external_id, client_key=client_key, channel=channel
    )


def _touch(conversation_id: Any) -> None:
    Conversation.objects.filter(pk=conversation_id).update(updated_at=timezone.now())


@transaction.atomic
def message_append(
    *,
    conversation: Conversation,
    role: str,
    content: str = "",
    tool_name: str = "",
    tool_kind: str = "",
    tool_call_id: str = "",
    interrupted: bool = False,
    **fields: Any,
) -> Message:
    """Store one message and touch the conversation. `fields` are metric columns (`asr_ms`, …)."""
    unknown = set(fields) - MESSAGE_FIELDS
    if unknown:
        raise TypeError(f"unknown message fields: {sorted(unknown)}")
    message = Message.objects.create(
        conversation_id=conversation.pk,
        role=role,
        content=content,
        tool_name=tool_name,
        tool_kind=tool_kind,
        tool_call_id=tool_call_id,
        interrupted=interrupted,
        **fields,
    )
    _touch(conversation.pk)
    if fields.get("asr_ms") is not None:  # a spoken user turn: the conversation has voice
        Conversation.objects.filter(pk=conversation.pk, has_voice=False).update(has_voice=True)
    return message


def turn_user_message_store(*, conversation_id: Any, content: str, **fields: Any) -> Message:
    """The user's message as a turn starts: one INSERT, no transaction and no touch of the
    conversation, because the turn's closing write (`assistant_reply_store`, or the interrupted
    reply) updates the conversation's `updated_at` with its rollups. `fields` are metric columns."""
    unknown = set(fields) - MESSAGE_FIELDS
    if unknown:
        raise TypeError(f"unknown message fields: {sorted(unknown)}")
    message = _insert_message(
        Message(conversation_id=conversation_id, role=Message.Role.USER, content=content, **fields)
    )
    if fields.get("asr_ms") is not None:  # a spoken user turn: the conversation has voice
        Conversation.objects.filter(pk=conversation_id, has_voice=False).update(has_voice=True)
    return message


@transaction.atomic
def messages_append(*, conversation: Conversation, messages: list[dict[str, Any]]) -> list[Message]:
    """Store several messages in one transaction (a tool call with its result), in order."""
    rows = [Message.objects.create(conversation_id=conversation.pk, **spec) for spec in messages]
    _touch(conversation.pk)
    return rows


# Metadata namespaces only the server writes: the phone line's call record (`phone.*`: caller, call
# SID, duration, recording). Tools act on a caller's say-so (set_metadata) or a third-party API's
# answer (an HTTP tool's mapped fields): they read these keys but never change them, so a caller cannot
# rewrite who called or point the call record at another file.
SERVER_OWNED_METADATA = frozenset({"phone"})


def _namespace(key: str) -> str:
    """The top-level key `merge_metadata` writes `key` under (`phone.caller` → `phone`)."""
    if "." not in key or key.startswith(".") or key.endswith("."):
        return key
    return next((part for part in key.split(".") if part), key)


def tool_metadata_patch(patch: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(the part of a tool's metadata patch it may merge, the keys refused as server-owned)."""
    allowed = {key: value for key, value in patch.items() if _namespace(str(key)) not in SERVER_OWNED_METADATA}
    return allowed, [str(key) for key in patch if key not in allowed]


def refused_keys_note(refused: list[str]) -> dict[str, Any]:
    """What a tool's result tells the model about keys it may not write."""
    return {
        "keys": refused,
        "reason": "server-owned: only the server writes " + ", ".join(sorted(SERVER_OWNED_METADATA)),
    }


@transaction.atomic
def conversation_merge_metadata(*, conversation: Conversation, patch: dict[str, Any]) -> dict[str, Any]:
    """Merge `patch` (dotted keys → nested) into the stored metadata and return the full result.

    Reads the row under a lock (where the database has row locks) so two tools merging at once
    do not lose each other's keys; `conversation.metadata` is updated in place too.
    """
    current = (
        Conversation.objects.select_for_update().filter(pk=conversation.pk).values_list("metadata", flat=True).first()
    )
    merged = merge_metadata(current if isinstance(current, dict) else {}, patch)
    Conversation.objects.filter(pk=conversation.pk).update(metadata=merged, updated_at=timezone.now())
    conversation.metadata = merged
    return merged


@transaction.atomic
def assistant_reply_store(
    *,
    conversation: Conversation,
    text: str,
    interrupted: bool = False,
    input_tokens: int = 0,
    output_tokens: int = 0,
    cost_usd: float = 0.0,
    timings_ms: dict[str, int] | None = None,
    store_message: bool = True,
) -> Message | None:
    """The end of a turn: the assistant message with its metrics, and the conversation's rollups
    (token and cost sums, `last_*` latencies) in one transaction."""
    timings = {k: int(v) for k, v in (timings_ms or {}).items() if k in TIMING_FIELDS and v is not None}
    message = None
    if store_message:
        message = _insert_message(
            Message(
                conversation_id=conversation.pk,
                role=Message.Role.ASSISTANT,
                content=text,
                interrupted=interrupted,
                input_tokens_est=input_tokens,
                output_tokens_est=output_tokens,
                cost_usd_est=cost_usd,
                **{f"{k}_ms": v for k, v in timings.items()},
            )
        )
    connection = connections[router.db_for_write(Conversation)]
    sql = _TurnSQL.of(connection)
    params = [
        input_tokens,
        output_tokens,
        cost_usd,
        sql.updated_at.get_db_prep_save(timezone.now(), connection),
        *(timings.get(name) for name in TIMING_FIELDS),
        sql.conversation_pk.get_db_prep_save(conversation.pk, connection),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql.update_conversation, params)
    return message


@transaction.atomic
def assistant_reply_heard(
    *, conversation: Conversation, text: str, message_id: Any = None, since: datetime | None = None
) -> Message | None:
    """A reply cut off while it was being played (a caller barged in or hung up): keep only the words
    the listener heard, marked interrupted. The engine stored what it generated; a transport that
    knows what was played (the phone line's marks) narrows it here. `message_id` names the reply;
    without it, the conversation's latest assistant message created at or after `since`."""
    rows = Message.objects.select_for_update().filter(conversation_id=conversation.pk, role=Message.Role.ASSISTANT)
    if message_id:
        message = rows.filter(pk=message_id).first()
    else:
        message = (rows.filter(created_at__gte=since) if since is not None else rows).order_by("-created_at").first()
    if message is None:
        return None
    message.content = text
    message.interrupted = True
    message.save(update_fields=["content", "interrupted"])
    _touch(conversation.pk)
    return message


@transaction.atomic
def message_record_timings(message_id: Any, **timings_ms: int | None) -> None:
    """Add latencies measured after the turn (e.g. `tts_first_audio=180` from the voice pipeline) to
    a stored message and to its conversation's `last_*` columns."""
    values = {k: (int(v) if v is not None else None) for k, v in timings_ms.items()}
    unknown = set(values) - set(TIMING_FIELDS)
    if unknown:
        raise TypeError(f"unknown timings: {sorted(unknown)} (known: {', '.join(TIMING_FIELDS)})")
    if not values:
        return
    conversation_id = Message.objects.filter(pk=message_id).values_list("conversation_id", flat=True).first()
    if conversation_id is None:
        return
    Message.objects.filter(pk=message_id).update(**{f"{k}_ms": v for k, v in values.items()})
    Conversation.objects.filter(pk=conversation_id).update(
        updated_at=timezone.now(), **{f"last_{k}_ms": v for k, v in values.items()}
    )


class ConversationLookupError(LookupError):
    """A client-supplied conversation id that cannot be used; the message is shown to the client and
    `status` is the HTTP status every REST path answers with (one rule for every transport)."""

    status = 400


class ConversationNotFound(ConversationLookupError):
    status = 404


class ConversationOfAnotherBot(ConversationLookupError):
    status = 400


def conversation_for_bot(
    *, bot: Bot, conversation_id: Any = None, test_flag: bool = True, channel: str = Conversation.Channel.STUDIO
) -> Conversation:
    """Resume `conversation_id` (it must belong to `bot`) or start a new conversation.

    Every transport that takes a conversation id from its client (REST chat, talk/stream, the Studio
    talk socket) looks it up here, so "not found" reads and answers the same everywhere."""
    if conversation_id in (None, ""):
        conversation = conversation_start(bot=bot, test_flag=test_flag, channel=channel)
        conversation.bot = bot
        return conversation
    try:
        wanted = conversation_id if isinstance(conversation_id, uuid.UUID) else uuid.UUID(str(conversation_id))
    except ValueError as exc:
        raise ConversationLookupError("Invalid conversation_id") from exc
    conversation = Conversation.objects.select_related("bot", "bot__openai_key").filter(pk=wanted).first()
    if conversation is None:
        raise ConversationNotFound("Conversation not found")
    if conversation.bot_id != bot.pk:
        raise ConversationOfAnotherBot("Conversation does not belong to bot")
    return conversation


# --- voice audio (the user's and the bot's audio of voice turns) -----------------------------------


def voice_audio_save(*, conversation_id: Any, wav: bytes, role: str) -> str:
    """Write one WAV under the data dir (`voice/<conversation>/<role>-<uuid>.wav`) and return its
    storage name, for the `audio` field of the message it belongs to (the user's message is stored by
    the turn after this, so its name travels with the message's fields)."""
    name = f"voice/{uuid.UUID(str(conversation_id))}/{role}-{uuid.uuid4().hex}.wav"
    return default_storage.save(name, ContentFile(wav))


def message_attach_audio(*, message_id: Any, wav: bytes) -> str:
    """Store the bot's audio of a stored reply (written after the reply, once it has been spoken)."""
    row = Message.objects.filter(pk=message_id).values_list("conversation_id", "role").first()
    if row is None:
        return ""
    name = voice_audio_save(conversation_id=row[0], wav=wav, role=row[1])
    if not Message.objects.filter(pk=message_id, audio="").update(audio=name):
        default_storage.delete(name)  # the message went away (or has audio) meanwhile
        return ""
    return name


# Apps above `conversations` whose files have a retention of their own (the phone line's call
# recordings) register a cleaner, `now -> files deleted`; the cleanup job (`integrations.cleanup`, which
# cannot import those apps) runs every registered cleaner and reports each under its name.
ExpiredFilesCleaner = Callable[[datetime], int]
_expired_files_cleaners: dict[str, ExpiredFilesCleaner] = {}


def register_expired_files(name: str, cleaner: ExpiredFilesCleaner) -> None:
    _expired_files_cleaners[name] = cleaner


def expired_files_delete(*, now: datetime) -> dict[str, int]:
    return {name: cleaner(now) for name, cleaner in _expired_files_cleaners.items()}


def voice_audio_delete_older_than(*, cutoff: datetime) -> int:
    """Retention: delete the audio files of messages created before `cutoff` (the text stays)."""
    count = 0
    rows = Message.objects.filter(created_at__lt=cutoff).exclude(audio="").values_list("pk", "audio")
    for pk, name in rows.iterator():
        try:
            default_storage.delete(name)
        except OSError:
            pass  # already gone
        Message.objects.filter(pk=pk).update(audio="")
        count += 1
    return count
