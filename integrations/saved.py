"""Saved responses: every successful integration call keeps its body (DB row + file in MEDIA_ROOT),
so `recall_http_response` and `export_http_response` can answer follow-up questions about it later.

Ids and file names are server-made (the row's UUID); the model may name a saved response only by that
id (`source_req_id`), which is parsed as a UUID and looked up within the same conversation, so no
client value ever becomes a path. Rows expire after VOICEBOT_SAVED_RESPONSE_TTL_HOURS (cleanup.py).
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.utils import timezone

from integrations.models import SavedResponse
from integrations.payload_schema import schema_for_payload

if TYPE_CHECKING:
    from conversations.models import Conversation
    from integrations.models import IntegrationTool


def saved_response_create(
    *,
    conversation: Conversation,
    tool: IntegrationTool,
    payload: Any,
    status_code: int | None,
    call_id: str = "",
    fields_required: str = "",
    why_api_was_called: str = "",
) -> SavedResponse:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    schema, _derived = schema_for_payload(tool.response_schema, payload)
    saved = SavedResponse(
        conversation=conversation,
        tool=tool,
        tool_name=tool.name,
        tool_call_id=(call_id or "")[:128],
        response_schema=schema,
        status_code=status_code,
        size_bytes=len(body),
        fields_required=fields_required or "",
        why_api_was_called=why_api_was_called or "",
        expires_at=timezone.now() + timedelta(hours=settings.VOICEBOT_SAVED_RESPONSE_TTL_HOURS),
    )
    saved.file.save("response.json", ContentFile(body), save=False)
    saved.save()
    return saved


def saved_response_find(
    *, conversation: Conversation, tool_name: str, saved_id: str | None = None
) -> SavedResponse | None:
    """The newest unexpired saved response of `tool_name` in this conversation (or the one with that id)."""
    rows = SavedResponse.objects.filter(conversation=conversation, tool_name=tool_name).exclude(
        expires_at__lte=timezone.now()
    )
    if saved_id:
        try:
            rows = rows.filter(id=uuid.UUID(str(saved_id).strip()))
        except ValueError:
            return None
    return rows.order_by("-created_at").first()


def saved_response_payload(saved: SavedResponse) -> Any:
    with saved.file.open("rb") as handle:
        return json.loads(handle.read().decode("utf-8"))


def saved_response_bytes(saved: SavedResponse) -> bytes:
    with saved.file.open("rb") as handle:
        return handle.read()
