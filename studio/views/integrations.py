"""Studio pages for a bot's HTTP integrations: the editor (with live validation and "Test call"),
the enable toggle and delete.

"Test call" is `integrations.test_call.run_test_call`; this module only parses, authorises and renders.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from bots.models import Bot
from integrations.models import IntegrationTool
from integrations.services_tools import masked_headers, tool_create, tool_delete, tool_update
from integrations.studio_forms import IntegrationForm, TestCallForm
from integrations.test_call import run_test_call
from studio.permissions import staff_required


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
