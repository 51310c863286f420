"""Export files and their download tokens.

An export is a CSV or JSON file made from a saved response, stored through a FileField under
MEDIA_ROOT with a server-made name; the user gets it through a random, expiring token
(`secrets.token_urlsafe`, VOICEBOT_DOWNLOAD_TTL_MINUTES) at `GET /api/downloads/<token>`.

Two ways to make the file: the Codex export script (the model writes a script from the schema and
the user's export request; it runs in the sandbox) and `builtin_export`, a deterministic fallback used
when Codex is unavailable or fails and the saved response is (or wraps) a list of records. Built-in
CSV cells that start with = + - @ are prefixed with ' so spreadsheets do not run them as formulas.
"""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.utils import timezone

from integrations.models import DownloadToken, Export

if TYPE_CHECKING:
    from conversations.models import Conversation
    from integrations.models import SavedResponse

MIME_TYPES = {"csv": "text/csv", "json": "application/json"}
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_filename(hint: str | None, fmt: str) -> str:
    """A download name built from a hint: plain characters only, no directories, the right extension."""
    name = (hint or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_NAME.sub("_", name).strip(" ._")[:100]
    stem = name.rsplit(".", 1)[0] if "." in name else name
    stem = stem.strip(" ._") or "export"
    return f"{stem}.{fmt}"


def find_records(payload: Any) -> list[dict[str, Any]] | None:
    """The list of records in a payload: the payload itself, or the only/first list of objects one
    level down (`{"data": [...]}`, `{"results": [...]}`). None when there is none."""
    if isinstance(payload, list) and payload and all(isinstance(r, dict) for r in payload):
        return payload
    if isinstance(payload, dict):
        for value in payload.values():
            if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
                return value
        if payload and all(not isinstance(v, (dict, list)) for v in payload.values()):
            return [payload]
        for value in payload.values():
            if isinstance(value, dict):
                inner = find_records(value)
                if inner:
                    return inner
    return None


def _flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        elif isinstance(value, list):
            flat[name] = json.dumps(value, ensure_ascii=False)
        else:
            flat[name] = value
    return flat


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = json.dumps(value) if isinstance(value, bool) else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def builtin_export(payload: Any, fmt: str) -> bytes | None:
    """Deterministic export of a list of records (None when the payload holds none)."""
    records = find_records(payload)
    if records is None:
        return None
    if fmt == "json":
        return json.dumps(records, ensure_ascii=False, indent=2).encode("utf-8")
    rows = [_flatten(r) for r in records]
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_cell(c) for c in columns])
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return out.getvalue().encode("utf-8")


def check_export_content(content: bytes, fmt: str) -> str | None:
    """None when the file is a plausible CSV/JSON export, else why not."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return "Export is not UTF-8 text."
    if not text.strip():
        return "Export is empty."
    if fmt == "json":
        try:
            json.loads(text)
        except ValueError as exc:
            return f"Export is not valid JSON: {exc}"
    return None


def download_url(token: str) -> str:
    base = (settings.VOICEBOT_DOWNLOAD_BASE_URL or "127.0.0.1:8000").strip().rstrip("/")
    if "://" not in base:
        base = "http://" + base
    return f"{base}/api/downloads/{token}"


def export_create(
    *,
    conversation: Conversation,
    saved: SavedResponse | None,
    fmt: str,
    content: bytes,
    filename_hint: str = "",
    export_request: str = "",
) -> tuple[Export, DownloadToken]:
    """Store the file and issue its download token."""
    ttl = timedelta(minutes=settings.VOICEBOT_DOWNLOAD_TTL_MINUTES)
    export = Export(
        conversation=conversation,
        saved_response=saved,
        format=fmt,
        filename=safe_filename(filename_hint, fmt),
        mime_type=MIME_TYPES[fmt],
        size_bytes=len(content),
        export_request=(export_request or "")[:2000],
        expires_at=timezone.now() + ttl,
    )
    export.file.save(f"export.{fmt}", ContentFile(content), save=False)
    export.save()
    token = DownloadToken.objects.create(
        token=secrets.token_urlsafe(32), export=export, expires_at=timezone.now() + ttl
    )
    return export, token


def download_find(token: str) -> DownloadToken | None:
    """The unexpired token row (with its export), or None."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{16,64}", token or ""):
        return None
    return DownloadToken.objects.select_related("export").filter(token=token, expires_at__gt=timezone.now()).first()
