"""Create, update and delete integration tools, and the tool's wire dict (headers masked).

Headers are write-only: they are stored encrypted, never returned, and shown as a masked preview in
which EVERY header value is masked (the reference masked only `Authorization`, INVENTORY §15.1.6).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from bots import crypto
from bots.models import Bot
from integrations.models import IntegrationTool
from integrations.validation import clean_tool_fields

# An auth scheme word stays readable in the masked preview ("Bearer ****…"); the credential does not.
_AUTH_SCHEMES = ("bearer", "basic", "token", "bot", "apikey", "digest")


def mask_header_value(value: str) -> str:
    scheme, _, rest = value.strip().partition(" ")
    if rest and scheme.lower() in _AUTH_SCHEMES:
        return f"{scheme} {crypto.mask_secret(rest)}"
    return crypto.mask_secret(value)


def masked_headers(tool: IntegrationTool) -> str:
    """The headers template as JSON text with every value masked ("" when it cannot be read)."""
    try:
        headers = json.loads(tool.get_headers_template())
    except (crypto.SecretError, ValueError):
        return ""
    if not isinstance(headers, dict):
        return ""
    return json.dumps({name: mask_header_value(str(value)) for name, value in headers.items()}, ensure_ascii=False)


def _json_text(value: Any) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False)


def tool_to_dict(tool: IntegrationTool) -> dict[str, Any]:
    """The reference's tool dict (§2.3) plus the stored JSON values as objects."""
    return {
        "id": str(tool.id),
        "bot_id": str(tool.bot_id),
        "name": tool.name,
        "description": tool.description,
        "url": tool.url,
        "method": tool.method,
        "enabled": tool.enabled,
        "args_required": list(tool.args_required or []),
        "headers_template_json": "{}",
        "headers_template_json_masked": masked_headers(tool),
        "headers_configured": tool.headers_configured,
        "request_body_template": tool.request_body_template,
        "parameters_schema_json": _json_text(tool.parameters_schema),
        "response_schema_json": _json_text(tool.response_schema),
        "response_mapper_json": _json_text(tool.response_mapper if tool.response_mapper is not None else {}),
        "parameters_schema": tool.parameters_schema,
        "response_schema": tool.response_schema,
        "response_mapper": tool.response_mapper or {},
        "codex_prompt": tool.codex_prompt,
        "static_reply_template": tool.static_reply_template,
        "use_codex_response": tool.use_codex_response,
        "created_at": tool.created_at,
        "updated_at": tool.updated_at,
    }


def _check_unique_name(*, bot: Bot, name: str, exclude: IntegrationTool | None = None) -> None:
    others = IntegrationTool.objects.filter(bot=bot, name=name)
    if exclude is not None:
        others = others.exclude(pk=exclude.pk)
    if others.exists():
        raise ValidationError({"name": "Tool name already exists for this bot"})


def _apply(tool: IntegrationTool, cleaned: dict[str, Any]) -> IntegrationTool:
    headers = cleaned.pop("headers_template", None)
    for field, value in cleaned.items():
        setattr(tool, field, value)
    if headers is not None:
        try:
            tool.set_headers_template(headers)
        except crypto.SecretError as exc:
            raise ValidationError({"headers_template_json": str(exc)}) from None
    if tool.request_body_template == "" and tool._state.adding:
        tool.request_body_template = "{}"
    tool.save()
    return tool


@transaction.atomic
def tool_create(*, bot: Bot, **fields: Any) -> IntegrationTool:
    """Create a tool on `bot`; `name` and `url` are required, everything else has the model's default."""
    errors: dict[str, str] = {}
    if not str(fields.get("name") or "").strip():
        errors["name"] = "Tool name is required"
    if not str(fields.get("url") or "").strip():
        errors["url"] = "URL is required."
    if errors:
        raise ValidationError(errors)
    cleaned = clean_tool_fields(fields)
    _check_unique_name(bot=bot, name=cleaned["name"])
    return _apply(IntegrationTool(bot=bot), cleaned)


@transaction.atomic
def tool_update(*, tool: IntegrationTool, **fields: Any) -> IntegrationTool:
    """Apply only the given fields. Headers absent = kept (write-only); blank = removed."""
    cleaned = clean_tool_fields(fields)
    if "name" in cleaned:
        _check_unique_name(bot=tool.bot, name=cleaned["name"], exclude=tool)
    return _apply(tool, cleaned)


@transaction.atomic
def tool_delete(*, tool: IntegrationTool) -> None:
    tool.delete()


def system_tools_for_bot(bot: Bot) -> list[dict[str, Any]]:
    """The registry's system tools with this bot's switches: `{name, description, enabled, can_disable}`."""
    from conversations.engine.tools import disabled_names, system_tools

    disabled = disabled_names(bot)
    rows = []
    for tool in system_tools():
        try:
            description = str(tool.definition().get("description", ""))
        except Exception:  # a broken definition must not hide the list
            description = ""
        rows.append(
            {
                "name": tool.name,
                "description": description,
                "enabled": tool.name not in disabled,
                "can_disable": bool(tool.can_disable),
            }
        )
    return rows
