"""A database in the reference's schema (INVENTORY §1: SQLModel's `create_all()` on SQLite), with
helpers to write rows the way the reference stored them: UUIDs as 32 hex characters, naive UTC
timestamps `YYYY-MM-DD HH:MM:SS.ffffff`, JSON as text, provider secrets as Fernet tokens (bytes),
client keys as the unsalted SHA-256 hex of their secret."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

SCHEMA = """
CREATE TABLE apikey (
    id CHAR(32) NOT NULL PRIMARY KEY,
    provider VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    hint VARCHAR NOT NULL,
    secret_ciphertext BLOB NOT NULL,
    created_at DATETIME NOT NULL
);
CREATE INDEX ix_apikey_provider ON apikey (provider);
CREATE INDEX ix_apikey_name ON apikey (name);
CREATE TABLE bot (
    id CHAR(32) NOT NULL PRIMARY KEY,
    name VARCHAR NOT NULL,
    openai_model VARCHAR NOT NULL,
    web_search_model VARCHAR NOT NULL,
    codex_model VARCHAR NOT NULL,
    disabled_tools_json VARCHAR NOT NULL,
    system_prompt VARCHAR NOT NULL,
    openai_key_id CHAR(32) REFERENCES apikey (id),
    asr_vendor VARCHAR NOT NULL,
    language VARCHAR NOT NULL,
    whisper_model VARCHAR NOT NULL,
    whisper_device VARCHAR NOT NULL,
    tts_vendor VARCHAR NOT NULL,
    tts_language VARCHAR NOT NULL,
    xtts_model VARCHAR NOT NULL,
    speaker_wav VARCHAR,
    speaker_id VARCHAR,
    openai_tts_model VARCHAR NOT NULL,
    openai_tts_voice VARCHAR NOT NULL,
    openai_tts_speed FLOAT NOT NULL,
    tts_split_sentences BOOLEAN NOT NULL,
    tts_chunk_min_chars INTEGER NOT NULL,
    tts_chunk_max_chars INTEGER NOT NULL,
    start_message_mode VARCHAR NOT NULL,
    start_message_text VARCHAR NOT NULL,
    created_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL
);
CREATE INDEX ix_bot_name ON bot (name);
CREATE TABLE conversation (
    id CHAR(32) NOT NULL PRIMARY KEY,
    bot_id CHAR(32) NOT NULL REFERENCES bot (id),
    test_flag BOOLEAN NOT NULL,
    external_id VARCHAR,
    client_key_id CHAR(32),
    metadata_json VARCHAR NOT NULL,
    llm_input_tokens_est INTEGER NOT NULL,
    llm_output_tokens_est INTEGER NOT NULL,
    cost_usd_est FLOAT NOT NULL,
    last_asr_ms INTEGER,
    last_llm_ttfb_ms INTEGER,
    last_llm_total_ms INTEGER,
    last_tts_first_audio_ms INTEGER,
    last_total_ms INTEGER,
    created_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL
);
CREATE INDEX ix_conversation_bot_id ON conversation (bot_id);
CREATE INDEX ix_conversation_external_id ON conversation (external_id);
CREATE TABLE conversationmessage (
    id CHAR(32) NOT NULL PRIMARY KEY,
    conversation_id CHAR(32) NOT NULL REFERENCES conversation (id),
    role VARCHAR NOT NULL,
    content VARCHAR NOT NULL,
    input_tokens_est INTEGER,
    output_tokens_est INTEGER,
    cost_usd_est FLOAT,
    asr_ms INTEGER,
    llm_ttfb_ms INTEGER,
    llm_total_ms INTEGER,
    tts_first_audio_ms INTEGER,
    total_ms INTEGER,
    created_at DATETIME NOT NULL
);
CREATE INDEX ix_conversationmessage_conversation_id ON conversationmessage (conversation_id);
CREATE TABLE integrationtool (
    id CHAR(32) NOT NULL PRIMARY KEY,
    bot_id CHAR(32) NOT NULL REFERENCES bot (id),
    name VARCHAR NOT NULL,
    description VARCHAR NOT NULL,
    url VARCHAR NOT NULL,
    method VARCHAR NOT NULL,
    args_required_json VARCHAR NOT NULL,
    headers_template_json VARCHAR NOT NULL,
    request_body_template VARCHAR NOT NULL,
    parameters_schema_json VARCHAR NOT NULL,
    response_schema_json VARCHAR NOT NULL,
    codex_prompt VARCHAR NOT NULL,
    response_mapper_json VARCHAR NOT NULL,
    static_reply_template VARCHAR NOT NULL,
    use_codex_response BOOLEAN NOT NULL,
    enabled BOOLEAN NOT NULL,
    created_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL
);
CREATE INDEX ix_integrationtool_bot_id ON integrationtool (bot_id);
CREATE TABLE clientkey (
    id CHAR(32) NOT NULL PRIMARY KEY,
    name VARCHAR NOT NULL,
    hint VARCHAR NOT NULL,
    secret_hash VARCHAR NOT NULL,
    allowed_origins VARCHAR NOT NULL,
    allowed_bot_ids_json VARCHAR NOT NULL,
    created_at DATETIME NOT NULL
);
CREATE INDEX ix_clientkey_name ON clientkey (name);
"""

BOT_DEFAULTS: dict[str, Any] = {
    "openai_model": "o4-mini",
    "web_search_model": "gpt-4o-mini",
    "codex_model": "gpt-5.1-codex-mini",
    "disabled_tools_json": "[]",
    "system_prompt": "You are a fast, helpful voice assistant. Keep answers concise unless asked.",
    "openai_key_id": None,
    "asr_vendor": "whisper_local",
    "language": "en",
    "whisper_model": "small",
    "whisper_device": "auto",
    "tts_vendor": "xtts_local",
    "tts_language": "en",
    "xtts_model": "tts_models/multilingual/multi-dataset/xtts_v2",
    "speaker_wav": None,
    "speaker_id": None,
    "openai_tts_model": "gpt-4o-mini-tts",
    "openai_tts_voice": "alloy",
    "openai_tts_speed": 1.0,
    "tts_split_sentences": 0,
    "tts_chunk_min_chars": 20,
    "tts_chunk_max_chars": 120,
    "start_message_mode": "llm",
    "start_message_text": "",
}


def stamp(when: datetime) -> str:
    """The reference's SQLite datetime text: naive UTC with microseconds."""
    return when.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


class ReferenceDb:
    """A reference database file; each `add_*` writes one row and returns its UUID."""

    def __init__(self, path: Path, fernet_key: str) -> None:
        self.path = path
        self.fernet = Fernet(fernet_key.encode())
        self.db = sqlite3.connect(path)
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.commit()
        self.db.close()

    def _insert(self, table: str, row: dict[str, Any]) -> uuid.UUID:
        row_id = row.setdefault("id", uuid.uuid4())
        values = {k: (v.hex if isinstance(v, uuid.UUID) else v) for k, v in row.items()}
        values = {k: (stamp(v) if isinstance(v, datetime) else v) for k, v in values.items()}
        columns = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        self.db.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", list(values.values()))
        self.db.commit()
        return row_id

    def add_api_key(self, *, name: str, secret: str, created_at: datetime, provider: str = "openai") -> uuid.UUID:
        hint = secret[:6] + "********" + secret[-4:]
        return self._insert(
            "apikey",
            {
                "provider": provider,
                "name": name,
                "hint": hint,
                "secret_ciphertext": self.fernet.encrypt(secret.encode()),
                "created_at": created_at,
            },
        )

    def add_bot(self, *, name: str, created_at: datetime, **fields: Any) -> uuid.UUID:
        return self._insert(
            "bot", {**BOT_DEFAULTS, "name": name, "created_at": created_at, "updated_at": created_at, **fields}
        )

    def add_tool(self, *, bot_id: uuid.UUID, name: str, url: str, created_at: datetime, **fields: Any) -> uuid.UUID:
        row = {
            "bot_id": bot_id,
            "name": name,
            "description": "",
            "url": url,
            "method": "GET",
            "args_required_json": "[]",
            "headers_template_json": "{}",
            "request_body_template": "{}",
            "parameters_schema_json": "",
            "response_schema_json": "",
            "codex_prompt": "",
            "response_mapper_json": "{}",
            "static_reply_template": "",
            "use_codex_response": 0,
            "enabled": 1,
            "created_at": created_at,
            "updated_at": created_at,
            **fields,
        }
        return self._insert("integrationtool", row)

    def add_client_key(
        self, *, name: str, secret: str, created_at: datetime, allowed_origins: str = "", allowed_bot_ids=()
    ) -> uuid.UUID:
        return self._insert(
            "clientkey",
            {
                "name": name,
                "hint": secret[:6] + "********" + secret[-4:],
                "secret_hash": hashlib.sha256(secret.encode()).hexdigest(),
                "allowed_origins": allowed_origins,
                "allowed_bot_ids_json": json.dumps([str(b) for b in allowed_bot_ids]),
                "created_at": created_at,
            },
        )

    def add_conversation(self, *, bot_id: uuid.UUID, created_at: datetime, **fields: Any) -> uuid.UUID:
        row = {
            "bot_id": bot_id,
            "test_flag": 1,
            "external_id": None,
            "client_key_id": None,
            "metadata_json": "{}",
            "llm_input_tokens_est": 0,
            "llm_output_tokens_est": 0,
            "cost_usd_est": 0.0,
            "created_at": created_at,
            "updated_at": created_at,
            **fields,
        }
        return self._insert("conversation", row)

    def add_message(
        self, *, conversation_id: uuid.UUID, role: str, content: str, created_at: datetime, **fields: Any
    ) -> uuid.UUID:
        return self._insert(
            "conversationmessage",
            {"conversation_id": conversation_id, "role": role, "content": content, "created_at": created_at, **fields},
        )
