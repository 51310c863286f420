"""Structured logs: one line per turn, the conversation id on every record logged during a turn, and
a JSON formatter (VOICEBOT_LOG_FORMAT=json) for log shippers.

The turn line (logger `voicebot.turns`, INFO) carries ids, the channel, the model name, the outcome,
an error *code* and the timings: never message text, tool arguments, headers or keys, so it is safe to
ship anywhere. Its fields travel as the record's `turn` attribute; the text formatter shows them as
`key=value` pairs, the JSON formatter as one object.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

TURN_LOGGER = "voicebot.turns"
turn_logger = logging.getLogger(TURN_LOGGER)

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "conversation_id", "turn"}


def current_conversation_id() -> str:
    try:
        from observability.observe import current_turn
    except ImportError:  # the interpreter is shutting down (a library logs from a __del__)
        return ""
    turn = current_turn()
    return turn.conversation_id if turn is not None else ""


class ConversationFilter(logging.Filter):
    """Adds `conversation_id` (the running turn's, or "") to every record a handler emits."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "conversation_id", ""):
            record.conversation_id = current_conversation_id()
        return True


class TextFormatter(logging.Formatter):
    """The plain format, plus `conv=<id>` inside a turn and the turn line's fields as key=value."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        conversation_id = getattr(record, "conversation_id", "")
        turn = record.__dict__.get("turn")
        if isinstance(turn, dict):
            timings = turn.get("timings_ms") or {}
            line += "".join(f" {key}_ms={value}" for key, value in timings.items() if key != "total")
            if turn.get("error_code"):
                line += f" error_code={turn['error_code']}"
        elif conversation_id:
            line += f" conv={conversation_id}"
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, conversation_id, the turn fields and
    any `extra=` the caller passed; the traceback as `exc_info` text."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        conversation_id = getattr(record, "conversation_id", "")
        if conversation_id:
            payload["conversation_id"] = conversation_id
        turn = record.__dict__.get("turn")
        if isinstance(turn, dict):
            payload.update(turn)
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                payload.setdefault(key, value)
        if record.exc_info:
            payload["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str, ensure_ascii=False)


def log_turn(fields: dict[str, Any]) -> None:
    """The turn's line: `turn conversation=… outcome=… total_ms=…` with `fields` as `record.turn`."""
    if not turn_logger.isEnabledFor(logging.INFO):
        return
    timings = fields.get("timings_ms") or {}
    turn_logger.info(
        "turn conversation=%s bot=%s channel=%s outcome=%s total_ms=%s",
        fields.get("conversation_id", ""),
        fields.get("bot_id", ""),
        fields.get("channel", ""),
        fields.get("outcome", ""),
        timings.get("total", fields.get("duration_ms", "")),
        extra={"turn": {"event": "turn", **fields}, "conversation_id": fields.get("conversation_id", "")},
    )
