"""Studio pages for a bot's HTTP integrations: the editor (with live validation and "Test call"),
the enable toggle and delete.

"Test call" runs the editor's current (possibly unsaved) settings with sample args through the same
building blocks a conversation uses (`schema.validate_args`, `http_tool.build_request/execute` with
the SSRF-guarded egress, `mapping`, `replies`), and shows the request, the response, the mapped
metadata and the rendered reply. It touches no conversation and saves nothing. The Codex step is not
run here: it reads a saved response, which belongs to a conversation.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from bots.crypto import SecretError
from bots.models import Bot
from bots.studio_views import staff_required
from conversations.templating import render_template
from integrations.http_tool import RequestBuildError, build_request, execute
from integrations.mapping import map_into_metadata, validate_response
from integrations.models import IntegrationTool
from integrations.replies import render_static_reply
from integrations.schema import split_call_arguments, validate_args
from integrations.services_tools import mask_header_value, masked_headers, tool_create, tool_delete, tool_update
from integrations.studio_forms import IntegrationForm, TestCallForm
from integrations.validation import clean_tool_fields

RESPONSE_PREVIEW_CHARS = 20_000


def _pretty(value: Any) -> str:
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return text if len(text) <= RESPONSE_PREVIEW_CHARS else text[:RESPONSE_PREVIEW_CHARS] + "\n… (truncated)"


def _editor_context(bot: Bot, tool: IntegrationTool | None, form: IntegrationForm, **extra: Any) -> dict[str, Any]:
    sample = {name: "" for name in (tool.args_required if tool else [])} if tool else {}
    return {
        "bot": bot,
        "tool": tool,
        "form": form,
        "test_form": TestCallForm(initial={"sample_args": json.dumps(sample) if sample else "", "sample_metadata": ""}),
        "headers_masked": masked_headers(tool) if tool and tool.headers_configured else "",
        **extra,
    }


def _save(request: HttpRequest, bot: Bot, tool: IntegrationTool | None) -> HttpResponse:
    form = IntegrationForm(request.POST, tool=tool)
    if form.is_valid():
        try:
            if tool is None:
                tool = tool_create(bot=bot, **form.service_payload())
            else:
                tool = tool_update(tool=tool, **form.service_payload())
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            messages.success(request, f"Integration “{tool.name}” saved.")
            return redirect("studio:bot_edit", bot_id=bot.id)
    if tool is not None:
        tool.refresh_from_db()
    return render(request, "studio/integrations/edit.html", _editor_context(bot, tool, form), status=400)


@staff_required
def integration_create(request: HttpRequest, bot_id: Any) -> HttpResponse:
    bot = get_object_or_404(Bot, pk=bot_id)
    if request.method == "POST":
        return _save(request, bot, None)
    return render(request, "studio/integrations/edit.html", _editor_context(bot, None, IntegrationForm()))


@staff_required
def integration_edit(request: HttpRequest, bot_id: Any, tool_id: Any) -> HttpResponse:
    tool = get_object_or_404(IntegrationTool.objects.select_related("bot"), pk=tool_id, bot_id=bot_id)
    if request.method == "POST":
        return _save(request, tool.bot, tool)
    return render(request, "studio/integrations/edit.html", _editor_context(tool.bot, tool, IntegrationForm(tool=tool)))


def _tool_or_none(bot: Bot, tool_id: str | None) -> IntegrationTool | None:
    if not tool_id:
        return None
    return get_object_or_404(IntegrationTool, pk=tool_id, bot=bot)


@staff_required
@require_POST
def integration_validate(request: HttpRequest, bot_id: Any) -> HttpResponse:
    """Live validation: every field's errors as out-of-band swaps into the editor (HTMX)."""
    bot = get_object_or_404(Bot, pk=bot_id)
    tool = _tool_or_none(bot, request.POST.get("tool_id"))
    form = IntegrationForm(request.POST, tool=tool)
    form.is_valid()
    return render(request, "studio/integrations/_validation.html", {"form": form})


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
    report["metadata_after"] = _pretty(merged)
    report["static_reply"] = render_static_reply(
        tool.static_reply_template, meta=merged, response=outcome.payload, args=call_args
    )
    report["next_reply"] = render_template(next_reply, {"meta": merged}).strip() if next_reply.strip() else ""
    report["codex"] = tool.use_codex_response
    return report


@staff_required
@require_POST
def integration_test_call(request: HttpRequest, bot_id: Any) -> HttpResponse:
    bot = get_object_or_404(Bot, pk=bot_id)
    stored = _tool_or_none(bot, request.POST.get("tool_id"))
    form = IntegrationForm(request.POST, tool=stored)
    sample = TestCallForm(request.POST)
    context: dict[str, Any] = {"form": form, "sample": sample}
    if not form.is_valid() or not sample.is_valid():
        context["invalid"] = True
        return render(request, "studio/integrations/_test_result.html", context, status=400)
    try:
        context["report"] = run_test_call(
            bot=bot,
            stored=stored,
            fields=form.service_payload(),
            arguments=sample.cleaned_data["sample_args"],
            metadata=sample.cleaned_data["sample_metadata"],
        )
    except ValidationError as exc:
        context["invalid"] = True
        context["service_errors"] = exc.messages
        return render(request, "studio/integrations/_test_result.html", context, status=400)
    return render(request, "studio/integrations/_test_result.html", context)


@staff_required
@require_POST
def integration_toggle(request: HttpRequest, bot_id: Any, tool_id: Any) -> HttpResponse:
    tool = get_object_or_404(IntegrationTool, pk=tool_id, bot_id=bot_id)
    tool = tool_update(tool=tool, enabled=request.POST.get("enabled") == "on")
    if not request.htmx:
        messages.success(request, f"Integration “{tool.name}” {'enabled' if tool.enabled else 'disabled'}.")
        return redirect("studio:bot_edit", bot_id=tool.bot_id)
    return render(request, "studio/integrations/_row.html", {"tool": tool, "bot": tool.bot, "just_saved": True})


@staff_required
@require_POST
def integration_delete(request: HttpRequest, bot_id: Any, tool_id: Any) -> HttpResponse:
    tool = get_object_or_404(IntegrationTool, pk=tool_id, bot_id=bot_id)
    name = tool.name
    tool_delete(tool=tool)
    if request.htmx:
        return HttpResponse("")  # the row is swapped out
    messages.success(request, f"Integration “{name}” deleted.")
    return redirect("studio:bot_edit", bot_id=bot_id)
