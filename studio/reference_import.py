"""Import the reference system's SQLite database (INVENTORY §1) into this project, keeping every id.

Bots keep their UUIDs (so `data-bot-id` in pasted snippets stays valid), as do provider keys,
integration tools, client keys, conversations and messages. Secrets are re-encrypted: provider keys
are decrypted with the reference's Fernet key (`REFERENCE_SECRET_KEY`) and stored under ours
(`bots.crypto`); client keys keep the reference's unsalted SHA-256 with the `legacy_sha256` marker,
and `embed.services.client_key_verify` upgrades each to our keyed hash the first time it is used.
Integration headers (plaintext in the reference) are encrypted. Each imported client key gets a new
signing secret (the reference had none), reported once so a site can sign `user_token`s.

Idempotent: a row whose id already exists here is left as it is (and counted "already present"),
so a second run adds only what is new. Everything runs in one transaction; `dry_run` rolls it back,
so the report says exactly what a real run would do and nothing is written. Values this build
refuses (an unknown engine, a tool name that breaks OpenAI's rule, an invalid JSON Schema) are
replaced by defaults and reported; rows that cannot be kept safely are skipped, with the reason.

Widget conversations (a user id plus a client key) are owned by the *site*: only a `user_token`
signed with the key's signing secret reopens them (`embed.ownership`); the reference let anyone with
the bare id continue them. This module lives in `studio` (the top floor) because it writes every app.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from bots import crypto
from bots.engines import LEGACY_ASR_ENGINES, LEGACY_TTS_VENDORS, AsrEngine, TtsEngine
from bots.models import DEFAULT_CODEX_MODEL, Bot, ProviderKey
from bots.services import normalise_disabled_tools
from conversations.models import Conversation, Message
from embed.models import ClientKey
from embed.services import (
    SIGNING_SECRET_PREFIX,
    EmbedInputError,
    is_placeholder_user_id,
    normalise_origins,
)
from integrations.models import IntegrationTool
from integrations.validation import clean_tool_fields

TABLES = ("apikey", "bot", "integrationtool", "clientkey", "conversation", "conversationmessage")
LABELS = {
    "apikey": "provider keys",
    "bot": "bots",
    "integrationtool": "integration tools",
    "clientkey": "client keys",
    "conversation": "conversations",
    "conversationmessage": "messages",
}
# The reference's light migration rewrote these codex model names; do the same.
OLD_CODEX_MODELS = {"", "gpt-5-codex-mini"}
MESSAGE_BATCH = 500
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class ReferenceImportError(Exception):
    """The import cannot start (bad file, missing key); the message says what to do."""


@dataclass
class TableReport:
    imported: int = 0
    present: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (row id, reason)


@dataclass
class ImportReport:
    dry_run: bool
    tables: dict[str, TableReport] = field(default_factory=lambda: {t: TableReport() for t in TABLES})
    adjusted: list[str] = field(default_factory=list)  # what was changed to fit this build
    signing_secrets: list[tuple[str, str, str]] = field(default_factory=list)  # (key id, name, secret)
    xtts_bots: int = 0

    def skip(self, table: str, row_id: Any, reason: str) -> None:
        self.tables[table].skipped.append((str(row_id), reason))

    def lines(self) -> list[str]:
        """The human report, as the management command prints it."""
        verb = "would import" if self.dry_run else "imported"
        out = []
        for table, report in self.tables.items():
            out.append(
                f"  {LABELS[table]:<18} {report.imported:>6} {verb}, {report.present:>6} already present, "
                f"{len(report.skipped):>4} skipped"
            )
        skipped = [(t, i, r) for t, rep in self.tables.items() for i, r in rep.skipped]
        if skipped:
            out.append("Skipped (not imported):")
            out.extend(f"  {LABELS[t][:-1]} {i}: {r}" for t, i, r in skipped)
        if self.adjusted:
            out.append("Adjusted to fit this build:")
            out.extend(f"  {line}" for line in self.adjusted)
        if self.xtts_bots:
            out.append(
                f"Note: {self.xtts_bots} bot(s) speak with XTTS (the reference's default), which needs "
                "requirements-xtts.txt; choose Piper on the bot page for the voice installed by default."
            )
        return out


# --- reading the reference's values ------------------------------------------------------------------


def _uuid(value: Any) -> uuid.UUID | None:
    """SQLModel stores UUIDs as 32 hex characters on SQLite; accept dashed text and 16 raw bytes too."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        if isinstance(value, bytes | bytearray) and len(value) == 16:
            return uuid.UUID(bytes=bytes(value))
        if isinstance(value, str) and value.strip():
            return uuid.UUID(value.strip())
    except ValueError:
        return None
    return None


def _datetime(value: Any) -> datetime | None:
    """`YYYY-MM-DD HH:MM:SS[.ffffff]` naive UTC (or ISO 8601 with an offset) → an aware datetime."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and value.strip():
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _text(value: Any, default: str = "") -> str:
    if value is None:
        return default
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _count(value: Any) -> int:
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError):
        return 0


def _ms(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def _float(value: Any, default: float | None) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _json(value: Any) -> Any:
    try:
        return json.loads(_text(value))
    except ValueError:
        return None


def _reference_hint(hint: str) -> str:
    """The reference's hint (6 leading + 8 stars + 4 trailing) re-masked the way this build masks (4 + 4)."""
    hint = hint.strip()
    if "*" not in hint or hint.startswith("*") or len(hint) < 12:
        return "*" * len(hint) if hint and set(hint) == {"*"} else ""
    return f"{hint[:4]}********{hint[-4:]}"


class Reference:
    """The reference database, opened read-only; rows as dicts (columns a version lacks are absent)."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise ReferenceImportError(f"{path} is not a file")
        try:
            self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            self.db.row_factory = sqlite3.Row
            names = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as exc:
            raise ReferenceImportError(f"{path} is not a SQLite database: {exc}") from exc
        if "bot" not in names:
            raise ReferenceImportError(f"{path} has no `bot` table: is it the reference's voicebot.db?")
        self.tables = names

    def rows(self, table: str, order: str = "") -> Iterator[dict[str, Any]]:
        if table not in self.tables:
            return iter(())
        cursor = self.db.execute(f"SELECT * FROM {table}{f' ORDER BY {order}' if order else ''}")
        return (dict(row) for row in cursor)

    def count(self, table: str) -> int:
        if table not in self.tables:
            return 0
        return self.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]

    def close(self) -> None:
        self.db.close()


def reference_cipher(keys: str) -> MultiFernet | None:
    """`REFERENCE_SECRET_KEY` (one Fernet key, or several comma-separated) → a decryptor."""
    parts = [k.strip() for k in (keys or "").split(",") if k.strip()]
    if not parts:
        return None
    try:
        return MultiFernet([Fernet(k.encode()) for k in parts])
    except (ValueError, TypeError) as exc:
        raise ReferenceImportError(
            "REFERENCE_SECRET_KEY is not a Fernet key: use the reference's VOICEBOT_SECRET_KEY value"
        ) from exc


@contextlib.contextmanager
def _original_timestamps(*model_classes: type[models.Model]) -> Iterator[None]:
    """Save the reference's created_at/updated_at instead of now (auto_now/auto_now_add off meanwhile).

    Only the import's own process saves while this is on (a management command), and it is restored
    on the way out."""
    fields = [
        f
        for model in model_classes
        for f in model._meta.concrete_fields
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
    ]
    saved = [(f, f.auto_now, f.auto_now_add) for f in fields]
    for f in fields:
        f.auto_now = f.auto_now_add = False
    try:
        yield
    finally:
        for f, auto_now, auto_now_add in saved:
            f.auto_now, f.auto_now_add = auto_now, auto_now_add


def _fit_model(instance: models.Model, label: str, report: ImportReport, *, exclude: list[str]) -> None:
    """Validate like the Studio would; a field this build refuses takes its default (reported)."""
    for _attempt in range(3):
        try:
            instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
            return
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                model_field = instance._meta.get_field(name)
                old = getattr(instance, name)
                setattr(instance, name, model_field.get_default())
                report.adjusted.append(
                    f"{label}: {name} {str(old)[:60]!r} refused ({' '.join(messages)}); "
                    f"set to {model_field.get_default()!r}"
                )
    instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)


# --- the importer ------------------------------------------------------------------------------------


class Importer:
    def __init__(self, reference: Reference, cipher: MultiFernet | None, report: ImportReport) -> None:
        self.ref = reference
        self.cipher = cipher
        self.report = report
        self.key_skipped: dict[uuid.UUID, str] = {}  # provider key id → why it is not here

    # provider keys ------------------------------------------------------------------------------------
    def provider_keys(self) -> None:
        for row in self.ref.rows("apikey", "created_at"):
            key_id = _uuid(row.get("id"))
            if key_id is None:
                self.report.skip("apikey", row.get("id"), "its id is not a UUID")
                continue
            if ProviderKey.objects.filter(pk=key_id).exists():
                self.report.tables["apikey"].present += 1
                continue
            reason = self._provider_key(key_id, row)
            if reason:
                self.key_skipped[key_id] = reason
                self.report.skip("apikey", key_id, reason)
            else:
                self.report.tables["apikey"].imported += 1

    def _provider_key(self, key_id: uuid.UUID, row: dict[str, Any]) -> str:
        provider = _text(row.get("provider")).strip().lower()
        if provider != ProviderKey.Provider.OPENAI:
            return f"provider {provider!r} is not supported (the reference could not use it either)"
        if self.cipher is None:
            return "REFERENCE_SECRET_KEY is not set, so the secret cannot be decrypted"
        token = row.get("secret_ciphertext")
        token = token.encode("ascii", "ignore") if isinstance(token, str) else bytes(token or b"")
        try:
            secret = self.cipher.decrypt(token).decode("utf-8").strip()
        except (InvalidToken, UnicodeDecodeError):
            return "its secret does not decrypt with REFERENCE_SECRET_KEY (a different key?)"
        if not secret:
            return "its secret is empty"
        created = _datetime(row.get("created_at")) or timezone.now()
        name = _text(row.get("name")).strip()[:200] or f"Imported key {key_id.hex[:8]}"
        key = ProviderKey(id=key_id, provider=provider, name=name, created_at=created, updated_at=created)
        key.set_secret(secret)  # encrypted under VOICEBOT_SECRET_KEY, hint masked our way
        key.save(force_insert=True)
        return ""

    # bots ---------------------------------------------------------------------------------------------
    def bots(self) -> None:
        for row in self.ref.rows("bot", "created_at"):
            bot_id = _uuid(row.get("id"))
            if bot_id is None:
                self.report.skip("bot", row.get("id"), "its id is not a UUID")
                continue
            if Bot.objects.filter(pk=bot_id).exists():
                self.report.tables["bot"].present += 1
                continue
            self._bot(bot_id, row)
            self.report.tables["bot"].imported += 1

    def _bot(self, bot_id: uuid.UUID, row: dict[str, Any]) -> None:
        name = _text(row.get("name")).strip()[:200] or f"Imported bot {bot_id.hex[:8]}"
        label = f"bot {name!r} ({bot_id})"
        adjusted = self.report.adjusted
        defaults = {f.name: f.get_default() for f in Bot._meta.concrete_fields}

        def text(column: str, default: Any = None) -> str:
            value = row.get(column)
            return _text(value).strip() if value is not None else (default if default is not None else defaults[column])

        openai_model = text("openai_model") or defaults["openai_model"]
        web_search_model = text("web_search_model", "") or openai_model  # the reference's runtime fallback
        codex_model = text("codex_model", "")
        if codex_model in OLD_CODEX_MODELS:
            codex_model = DEFAULT_CODEX_MODEL
        if openai_model == "gpt-5-codex-mini":
            openai_model = DEFAULT_CODEX_MODEL

        disabled = _json(row.get("disabled_tools_json") or "[]")
        try:
            disabled_tools = normalise_disabled_tools(disabled if isinstance(disabled, list) else [])
        except ValidationError:
            names = [d.strip() for d in disabled if isinstance(d, str)] if isinstance(disabled, list) else []
            disabled_tools = normalise_disabled_tools([n for n in names if _valid_tool_name(n)])
            adjusted.append(f"{label}: disabled tool names that are not valid tool names were dropped")

        key = None
        key_id = _uuid(row.get("openai_key_id"))
        if key_id is not None:
            key = ProviderKey.objects.filter(pk=key_id).first()
            if key is None:
                why = self.key_skipped.get(key_id, "it no longer exists in the reference")
                adjusted.append(
                    f"{label}: its provider key {key_id} was not imported ({why}); the bot uses the server's "
                    "OPENAI_API_KEY until you choose a key in the Studio"
                )

        asr_vendor = text("asr_vendor", "whisper_local")
        asr_engine = LEGACY_ASR_ENGINES.get(asr_vendor, asr_vendor)
        if asr_engine not in AsrEngine.values:
            adjusted.append(f"{label}: ASR engine {asr_vendor!r} is unknown; set to {AsrEngine.WHISPER.value!r}")
            asr_engine = AsrEngine.WHISPER
        tts_sent = text("tts_vendor", "xtts_local")
        tts_vendor = LEGACY_TTS_VENDORS.get(tts_sent, tts_sent)
        if tts_vendor not in TtsEngine.values:
            adjusted.append(f"{label}: TTS engine {tts_sent!r} is unknown; set to {TtsEngine.PIPER.value!r}")
            tts_vendor = TtsEngine.PIPER
        speaker_wav = text("speaker_wav", "") or None
        if speaker_wav:
            adjusted.append(
                f"{label}: speaker_wav {speaker_wav!r} is a path on the reference's server; copy the file "
                "to the same path here (or change it in the Studio)"
            )
        start_mode = text("start_message_mode", "llm")
        if start_mode not in Bot.StartMode.values:
            adjusted.append(f"{label}: greeting mode {start_mode!r} is unknown; set to 'llm'")
            start_mode = Bot.StartMode.LLM
        minimum, maximum = _count(row.get("tts_chunk_min_chars")), _count(row.get("tts_chunk_max_chars"))
        if not (1 <= minimum <= maximum):
            adjusted.append(f"{label}: TTS chunk sizes {minimum}/{maximum} are not usable; set to 20/120")
            minimum, maximum = 20, 120

        created = _datetime(row.get("created_at")) or timezone.now()
        bot = Bot(
            id=bot_id,
            name=name,
            system_prompt=_text(row.get("system_prompt"), defaults["system_prompt"]),
            openai_model=openai_model,
            web_search_model=web_search_model,
            codex_model=codex_model,
            openai_key=key,
            disabled_tools=disabled_tools,
            asr_engine=asr_engine,
            language=text("language"),
            whisper_model=text("whisper_model"),
            whisper_device=text("whisper_device"),
            tts_vendor=tts_vendor,
            tts_language=text("tts_language"),
            xtts_model=text("xtts_model"),
            speaker_wav=speaker_wav,
            speaker_id=text("speaker_id", "") or None,
            openai_tts_model=text("openai_tts_model"),
            openai_tts_voice=text("openai_tts_voice"),
            openai_tts_speed=_float(row.get("openai_tts_speed"), 1.0) or 1.0,
            tts_split_sentences=bool(row.get("tts_split_sentences") or False),
            tts_chunk_min_chars=minimum,
            tts_chunk_max_chars=maximum,
            start_message_mode=start_mode,
            start_message_text=_text(row.get("start_message_text")),
            created_at=created,
            updated_at=_datetime(row.get("updated_at")) or created,
        )
        if tts_vendor == TtsEngine.XTTS:
            self.report.xtts_bots += 1
        _fit_model(bot, label, self.report, exclude=["openai_key", "created_at", "updated_at"])
        bot.save(force_insert=True)

    # integration tools --------------------------------------------------------------------------------
    def tools(self) -> None:
        for row in self.ref.rows("integrationtool", "created_at"):
            tool_id = _uuid(row.get("id"))
            if tool_id is None:
                self.report.skip("integrationtool", row.get("id"), "its id is not a UUID")
                continue
            if IntegrationTool.objects.filter(pk=tool_id).exists():
                self.report.tables["integrationtool"].present += 1
                continue
            reason = self._tool(tool_id, row)
            if reason:
                self.report.skip("integrationtool", tool_id, reason)
            else:
                self.report.tables["integrationtool"].imported += 1

    def _tool(self, tool_id: uuid.UUID, row: dict[str, Any]) -> str:
        bot = Bot.objects.filter(pk=_uuid(row.get("bot_id"))).first()
        name = _text(row.get("name")).strip()
        if bot is None:
            return f"{name!r}: its bot {row.get('bot_id')} was not imported"
        label = f"tool {name!r} of bot {bot.name!r} ({tool_id})"
        given = {
            "name": name,
            "description": _text(row.get("description")),
            "url": _text(row.get("url")),
            "method": _text(row.get("method"), "GET").strip().upper() or "GET",
            "enabled": bool(row.get("enabled", True)),
            "use_codex_response": bool(row.get("use_codex_response") or False),
            "args_required": _text(row.get("args_required_json"), "[]"),
            "headers_template": _text(row.get("headers_template_json"), "{}"),
            "request_body_template": _text(row.get("request_body_template"), "{}"),
            "parameters_schema": _text(row.get("parameters_schema_json")),
            "response_schema": _text(row.get("response_schema_json")),
            "response_mapper": _text(row.get("response_mapper_json"), "{}"),
            "static_reply_template": _text(row.get("static_reply_template")),
            "codex_prompt": _text(row.get("codex_prompt")),
        }
        cleaned: dict[str, Any] = {}
        for field_name, value in given.items():
            try:
                cleaned.update(clean_tool_fields({field_name: value}))
            except ValidationError as exc:
                problem = " ".join(m for ms in exc.message_dict.values() for m in ms)
                if field_name in ("name", "url"):
                    return f"{name!r}: {problem}"
                self.report.adjusted.append(f"{label}: {field_name} refused ({problem}); left empty")
        if IntegrationTool.objects.filter(bot=bot, name=cleaned["name"]).exists():
            return f"{name!r}: the bot already has a tool with that name"
        headers = cleaned.pop("headers_template", None)
        created = _datetime(row.get("created_at")) or timezone.now()
        tool = IntegrationTool(
            id=tool_id, bot=bot, created_at=created, updated_at=_datetime(row.get("updated_at")) or created, **cleaned
        )
        if headers:
            tool.set_headers_template(headers)  # plaintext in the reference; encrypted here
        if tool.response_mapper is None:
            tool.response_mapper = {}
        tool.save(force_insert=True)
        return ""

    # client keys --------------------------------------------------------------------------------------
    def client_keys(self) -> None:
        for row in self.ref.rows("clientkey", "created_at"):
            key_id = _uuid(row.get("id"))
            if key_id is None:
                self.report.skip("clientkey", row.get("id"), "its id is not a UUID")
                continue
            if ClientKey.objects.filter(pk=key_id).exists():
                self.report.tables["clientkey"].present += 1
                continue
            reason = self._client_key(key_id, row)
            if reason:
                self.report.skip("clientkey", key_id, reason)
            else:
                self.report.tables["clientkey"].imported += 1

    def _client_key(self, key_id: uuid.UUID, row: dict[str, Any]) -> str:
        name = _text(row.get("name")).strip()[:200] or f"Imported key {key_id.hex[:8]}"
        label = f"client key {name!r} ({key_id})"
        secret_hash = _text(row.get("secret_hash")).strip().lower()
        if not _HEX64.match(secret_hash):
            return f"{name!r}: its secret_hash is not a SHA-256 hex digest"
        if ClientKey.objects.filter(secret_hash=secret_hash).exists():
            return f"{name!r}: another key here has the same secret"
        origins_text = _text(row.get("allowed_origins"))
        entries = [o.strip() for o in origins_text.split(",") if o.strip()]
        kept = []
        for entry in entries:
            try:
                kept.append(normalise_origins(entry))
            except EmbedInputError as exc:
                self.report.adjusted.append(f"{label}: origin dropped: {exc}")
        if entries and not kept:
            return f"{name!r}: none of its allowed origins is a valid origin, and an empty list would allow every site"
        bot_ids = _json(row.get("allowed_bot_ids_json") or "[]")
        bot_ids = [str(b) for b in (bot_ids if isinstance(bot_ids, list) else []) if _uuid(str(b))]
        known = {str(pk) for pk in Bot.objects.filter(pk__in=[_uuid(b) for b in bot_ids]).values_list("pk", flat=True)}
        allowed_bots = [str(_uuid(b)) for b in bot_ids if str(_uuid(b)) in known]
        if len(allowed_bots) < len(bot_ids):
            self.report.adjusted.append(f"{label}: allowed bots that were not imported were dropped")
        if bot_ids and not allowed_bots:
            return f"{name!r}: none of its allowed bots was imported, and an empty list would allow every bot"
        signing_secret = SIGNING_SECRET_PREFIX + secrets.token_urlsafe(32)
        created = _datetime(row.get("created_at")) or timezone.now()
        ClientKey(
            id=key_id,
            name=name,
            hint=_reference_hint(_text(row.get("hint"))),
            secret_hash=secret_hash,
            legacy_sha256=True,  # verified once by its SHA-256, then re-hashed (embed.services)
            signing_secret_ciphertext=crypto.encrypt_text(signing_secret),
            allowed_origins=",".join(dict.fromkeys(o for o in ",".join(kept).split(",") if o)),
            allowed_bot_ids=list(dict.fromkeys(allowed_bots)),
            created_at=created,
            updated_at=created,
        ).save(force_insert=True)
        self.report.signing_secrets.append((str(key_id), name, signing_secret))
        return ""

    # conversations ------------------------------------------------------------------------------------
    def conversations(self) -> None:
        voiced = set()
        if "conversationmessage" in self.ref.tables:
            voiced = {
                _uuid(r[0])
                for r in self.ref.db.execute(
                    "SELECT DISTINCT conversation_id FROM conversationmessage WHERE asr_ms IS NOT NULL"
                )
            }
        # newest first: of several conversations of one site user, the newest is the one their token opens
        for row in self.ref.rows("conversation", "updated_at DESC"):
            conversation_id = _uuid(row.get("id"))
            if conversation_id is None:
                self.report.skip("conversation", row.get("id"), "its id is not a UUID")
                continue
            if Conversation.objects.filter(pk=conversation_id).exists():
                self.report.tables["conversation"].present += 1
                continue
            reason = self._conversation(conversation_id, row, conversation_id in voiced)
            if reason:
                self.report.skip("conversation", conversation_id, reason)
            else:
                self.report.tables["conversation"].imported += 1

    def _conversation(self, conversation_id: uuid.UUID, row: dict[str, Any], has_voice: bool) -> str:
        bot = Bot.objects.filter(pk=_uuid(row.get("bot_id"))).first()
        if bot is None:
            return f"its bot {row.get('bot_id')} was not imported"
        label = f"conversation {conversation_id}"
        metadata = _json(row.get("metadata_json") or "{}")
        if not isinstance(metadata, dict):
            self.report.adjusted.append(f"{label}: metadata was not a JSON object; imported empty")
            metadata = {}
        external_id = _text(row.get("external_id")).strip() or None
        key = ClientKey.objects.filter(pk=_uuid(row.get("client_key_id"))).first() if row.get("client_key_id") else None
        proof = Conversation.VisitorProof.NONE
        if external_id is not None:
            channel = Conversation.Channel.WIDGET
            if len(external_id) > 200:
                external_id = external_id[:200]
                self.report.adjusted.append(f"{label}: user id longer than 200 characters, cut; kept read-only")
            elif key is None:
                self.report.adjusted.append(
                    f"{label}: its client key {row.get('client_key_id')} is gone; kept read-only (no visitor can continue it)"
                )
            elif is_placeholder_user_id(external_id):
                self.report.adjusted.append(
                    f"{label}: user id {external_id!r} is a placeholder many visitors shared; kept read-only"
                )
            elif Conversation.objects.filter(
                bot=bot, external_id=external_id, client_key=key, visitor_proof=Conversation.VisitorProof.SITE
            ).exists():
                self.report.adjusted.append(
                    f"{label}: an older duplicate of user {external_id!r}; kept read-only (their user_token "
                    "opens the newest one)"
                )
            else:
                proof = Conversation.VisitorProof.SITE  # reopened only with a site-signed user_token
        else:
            channel = Conversation.Channel.STUDIO if row.get("test_flag") else Conversation.Channel.REST
        created = _datetime(row.get("created_at")) or timezone.now()
        Conversation(
            id=conversation_id,
            bot=bot,
            test_flag=bool(row.get("test_flag")),
            channel=channel,
            has_voice=has_voice,
            external_id=external_id,
            client_key=key,
            visitor_proof=proof,
            metadata=metadata,
            llm_input_tokens_est=_count(row.get("llm_input_tokens_est")),
            llm_output_tokens_est=_count(row.get("llm_output_tokens_est")),
            cost_usd_est=max(0.0, _float(row.get("cost_usd_est"), 0.0) or 0.0),
            last_asr_ms=_ms(row.get("last_asr_ms")),
            last_llm_ttfb_ms=_ms(row.get("last_llm_ttfb_ms")),
            last_llm_total_ms=_ms(row.get("last_llm_total_ms")),
            last_tts_first_audio_ms=_ms(row.get("last_tts_first_audio_ms")),
            last_total_ms=_ms(row.get("last_total_ms")),
            created_at=created,
            updated_at=_datetime(row.get("updated_at")) or created,
        ).save(force_insert=True)
        return ""

    # messages -----------------------------------------------------------------------------------------
    def messages(self) -> None:
        batch: list[dict[str, Any]] = []
        for row in self.ref.rows("conversationmessage", "created_at"):
            batch.append(row)
            if len(batch) >= MESSAGE_BATCH:
                self._message_batch(batch)
                batch = []
        if batch:
            self._message_batch(batch)

    def _message_batch(self, rows: list[dict[str, Any]]) -> None:
        table = self.report.tables["conversationmessage"]
        ids = {id(row): _uuid(row.get("id")) for row in rows}
        present = set(Message.objects.filter(pk__in=[i for i in ids.values() if i]).values_list("pk", flat=True))
        conversation_ids = {_uuid(row.get("conversation_id")) for row in rows}
        known = set(Conversation.objects.filter(pk__in=conversation_ids - {None}).values_list("pk", flat=True))
        new: list[Message] = []
        for row in rows:
            message_id = ids[id(row)]
            if message_id is None:
                self.report.skip("conversationmessage", row.get("id"), "its id is not a UUID")
                continue
            if message_id in present:
                table.present += 1
                continue
            conversation_id = _uuid(row.get("conversation_id"))
            if conversation_id not in known:
                self.report.skip(
                    "conversationmessage", message_id, f"its conversation {conversation_id} was not imported"
                )
                continue
            role = _text(row.get("role")).strip()
            if role not in Message.Role.values:
                self.report.skip("conversationmessage", message_id, f"role {role!r} is not one this build stores")
                continue
            content = _text(row.get("content"))
            tool_name, tool_kind = "", ""
            if role == Message.Role.TOOL:
                payload = _json(content)
                if isinstance(payload, dict):
                    tool_name = payload.get("tool") if isinstance(payload.get("tool"), str) else ""
                    tool_kind = "call" if "arguments" in payload else "result" if "result" in payload else ""
            new.append(
                Message(
                    id=message_id,
                    conversation_id=conversation_id,
                    role=role,
                    content=content,
                    tool_name=tool_name[:64],
                    tool_kind=tool_kind,
                    input_tokens_est=_ms(row.get("input_tokens_est")),
                    output_tokens_est=_ms(row.get("output_tokens_est")),
                    cost_usd_est=_float(row.get("cost_usd_est"), None),
                    asr_ms=_ms(row.get("asr_ms")),
                    llm_ttfb_ms=_ms(row.get("llm_ttfb_ms")),
                    llm_total_ms=_ms(row.get("llm_total_ms")),
                    tts_first_audio_ms=_ms(row.get("tts_first_audio_ms")),
                    total_ms=_ms(row.get("total_ms")),
                    created_at=_datetime(row.get("created_at")) or timezone.now(),
                )
            )
        Message.objects.bulk_create(new)
        table.imported += len(new)


def _valid_tool_name(name: str) -> bool:
    from bots.rules import is_tool_name

    return is_tool_name(name)


def import_reference(path: Path, *, reference_secret_key: str = "", dry_run: bool = False) -> ImportReport:
    """Import the reference database at `path` (see the module docstring); returns the report.

    Raises ReferenceImportError when it cannot start: not a reference database, VOICEBOT_SECRET_KEY unusable,
    or provider keys to import without REFERENCE_SECRET_KEY."""
    problem = crypto.check_secret_key()
    if problem:
        raise ReferenceImportError(problem)
    reference = Reference(path)
    try:
        cipher = reference_cipher(reference_secret_key)
        keys = reference.count("apikey")
        if cipher is None and keys:
            raise ReferenceImportError(
                f"The reference database holds {keys} provider key(s): set REFERENCE_SECRET_KEY to the reference's "
                "VOICEBOT_SECRET_KEY so they can be decrypted and re-encrypted"
            )
        report = ImportReport(dry_run=dry_run)
        importer = Importer(reference, cipher, report)
        with (
            transaction.atomic(),
            _original_timestamps(ProviderKey, Bot, IntegrationTool, ClientKey, Conversation, Message),
        ):
            importer.provider_keys()
            importer.bots()
            importer.tools()
            importer.client_keys()
            importer.conversations()
            importer.messages()
            if dry_run:
                transaction.set_rollback(True)
                report.signing_secrets = []  # nothing was stored: no secret to hand out
        return report
    finally:
        reference.close()
