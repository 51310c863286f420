""" "Test call": run an integration's (possibly unsaved) settings with sample args, without a conversation.

It uses the same building blocks a conversation uses (`schema.validate_args`, `http_tool.build_request`
and `execute` through the SSRF-guarded egress, `mapping`, `replies`) and returns what the Studio shows:
the request (credentials masked), the response, the mapped metadata (naming mapped fields that came
out empty) and the rendered reply. It saves nothing. The Codex step is not run: it reads a saved response, which belongs to a conversation.
"""

from __future__ import annotations

import json
from typing import Any

from bots.crypto import SecretError
from bots.models import Bot
from conversations.templating import render_template
from integrations.http_tool import RequestBuildError, build_request, execute
from integrations.mapping import map_into_metadata, validate_response
from integrations.models import IntegrationTool
from integrations.replies import TemplateBudgetError, render_reply
from integrations.schema import split_call_arguments, validate_args
from integrations.services_tools import mask_header_value
from integrations.validation import clean_tool_fields

RESPONSE_PREVIEW_CHARS = 20_000


def _pretty(value: Any) -> str:
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return text if len(text) <= RESPONSE_PREVIEW_CHARS else text[:RESPONSE_PREVIEW_CHARS] + "\n… (truncated)"


def _header_names(headers_text: str) -> list[str]:
    try:
        headers = json.loads(headers_text or "{}")
    except ValueError:
        return []
    return [str(name) for name in headers] if isinstance(headers, dict) else []


def run_test_call(
    *, bot: Bot, stored: IntegrationTool | None, fields: dict[str, Any], arguments: dict[str, Any], metadata: dict
) -> dict[str, Any]:
    """Run the request described by `fields` (the editor's payload) with sample `arguments`.

    Returns what the page shows: request, status, response, validation, mapped metadata, reply. Raises
    ValidationError for a tool definition that cannot be used.
    """
    cleaned = clean_tool_fields(fields)
    headers = cleaned.pop("headers_template", None)
    cleaned.pop("name", None)
    tool = IntegrationTool(bot=bot, name=fields.get("name") or "test", **cleaned)
    if headers is not None:
        headers_text = json.dumps(headers, ensure_ascii=False)
    else:
        headers_text = stored.get_headers_template() if stored is not None else "{}"

    call_args, next_reply, _wait = split_call_arguments(arguments)
    report: dict[str, Any] = {"args": call_args, "ok": False}
    problems = validate_args(tool, call_args)
    if problems:
        report["problems"] = problems
        return report
    ctx = {"meta": metadata, "args": call_args, "params": call_args}
    try:
        prepared = build_request(
            method=tool.method,
            url_template=tool.url,
            headers_template=headers_text,
            body_template=tool.request_body_template,
            ctx=ctx,
        )
    except (RequestBuildError, SecretError) as exc:
        report["error"] = {"type": "config_error", "message": str(exc)}
        return report
    secret_names = {name.lower() for name in _header_names(headers_text)}
    report["request"] = {
        "method": prepared.method,
        "url": prepared.url,
        # the tool's own headers may carry credentials: masked; the defaults (Accept, …) are shown
        "headers": {k: mask_header_value(v) if k.lower() in secret_names else v for k, v in prepared.headers.items()},
        "body": prepared.body.decode("utf-8", "replace") if prepared.body else "",
    }
    outcome = execute(prepared)
    report["status_code"] = outcome.status_code
    if not outcome.ok:
        report["error"] = outcome.error
        return report
    report["ok"] = True
    report["response"] = _pretty(outcome.payload)
    report["response_validation"] = validate_response(tool.response_schema, outcome.payload)
    patch, merged = map_into_metadata(tool.response_mapper, response=outcome.payload, meta=metadata, args=call_args)
    report["metadata_patch"] = _pretty(patch)
    # A mapped field that came out empty is almost always a wrong path (`data.items[0].name`).
    mapper = tool.response_mapper if isinstance(tool.response_mapper, dict) else {}
    report["empty_mapped"] = [
        key for key, value in patch.items() if isinstance(mapper.get(key), str) and value in (None, "", [], {})
    ]
    report["metadata_after"] = _pretty(merged)
    try:
        report["static_reply"] = render_reply(
            tool.static_reply_template, meta=merged, response=outcome.payload, args=call_args
        )
    except TemplateBudgetError as exc:
        report["static_reply"] = ""
        report["error"] = {"type": "template_error", "message": f"Static reply: {exc}"}
    report["next_reply"] = render_template(next_reply, {"meta": merged}).strip() if next_reply.strip() else ""
    report["codex"] = tool.use_codex_response
    return report
