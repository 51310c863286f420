"""Studio pages for bots: the dashboard, the bot editor and its system-tool toggles.

Views stay thin: parse the form, call a service from `bots.services` / `bots.selectors`, render. The
bot page combines apps: its integrations list and system tools come from `integrations`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from bots.models import Bot, ProviderKey
from bots.options import api_options
from bots.selectors import bot_key_problem, bot_list_with_stats, bot_stats, default_provider_key, provider_key_list
from bots.services import bot_create, bot_delete, bot_update
from bots.studio_forms import BotForm, apply_service_errors
from conversations.provider_keys import provider_key_models
from integrations.models import IntegrationTool
from integrations.services_tools import system_tools_for_bot
from studio.formatting import fmt_ms
from studio.onboarding import onboarding_steps
from studio.permissions import staff_required
from telephony.services import bot_phone_panel

# --- dashboard and bot pages -----------------------------------------------------------------------

MAX_KEYS_WITH_SUGGESTIONS = 50


def _voices() -> dict[str, list[str]]:
    """Voice suggestions that need no model load: the Piper voices on disk plus the default voice.

    XTTS speakers need the model loaded (`manage.py voicebot_tts_speakers` lists them), so the
    speaker field is free text.
    """
    voices = {settings.VOICEBOT_PIPER_DEFAULT_VOICE} if getattr(settings, "VOICEBOT_PIPER_DEFAULT_VOICE", "") else set()
    directory = getattr(settings, "VOICEBOT_PIPER_VOICES_DIR", None)
    if directory and Path(directory).is_dir():
        voices.update(path.stem for path in Path(directory).glob("*.onnx"))
    return {"piper": sorted(voices)}


def _key_models(selected: ProviderKey | None) -> dict[str, list[str]]:
    """Each stored key's chat models for the model suggestions: the selected key's listed now when not
    cached (short timeout), the others from the cache only."""
    keys = provider_key_list()[:MAX_KEYS_WITH_SUGGESTIONS]
    return {str(key.pk): provider_key_models(key, fetch=selected is not None and key.pk == selected.pk) for key in keys}


def _bot_form(bot: Bot | None, data: Any = None) -> BotForm:
    selected = bot.openai_key if bot is not None else default_provider_key()
    form = BotForm(
        data, instance=bot or Bot(), options=api_options(), voices=_voices(), key_models=_key_models(selected)
    )
    # Shown above the fields, so an HTMX save that picks a key clears it.
    form.key_problem = bot_key_problem(bot if bot is not None else Bot(openai_key=selected))
    return form


@staff_required
def dashboard(request: HttpRequest) -> HttpResponse:
    rows = []
    for bot in bot_list_with_stats():
        stats = bot_stats(bot)
        latency = f"{fmt_ms(stats['avg_llm_ttfb_ms'])} / {fmt_ms(stats['avg_llm_total_ms'])}"
        rows.append((bot, stats, latency))
    steps = onboarding_steps()
    next_step = next((step.key for step in steps if not step.done), "")
    context = {"bots": rows, "steps": steps, "show_steps": bool(next_step), "next_step": next_step}
    return render(request, "studio/bots/dashboard.html", context)


@staff_required
def bot_create_view(request: HttpRequest) -> HttpResponse:
    form = _bot_form(None, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            bot = bot_create(**form.service_fields())
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, f"Bot “{bot.name}” created.")
            return redirect("studio:bot_edit", bot_id=bot.id)
    status = 400 if form.is_bound else 200
    return render(request, "studio/bots/create.html", {"form": form}, status=status)


def _bot_page_context(bot: Bot, form: BotForm) -> dict[str, Any]:
    return {
        "bot": bot,
        "form": form,
        "system_tools": system_tool_rows(bot),
        "integrations": IntegrationTool.objects.filter(bot=bot).order_by("name"),
        "phone": bot_phone_panel(bot),
    }


@staff_required
def bot_edit(request: HttpRequest, bot_id: Any) -> HttpResponse:
    bot = get_object_or_404(Bot, pk=bot_id)
    if request.method != "POST":
        return render(request, "studio/bots/edit.html", _bot_page_context(bot, _bot_form(bot)))
    form = _bot_form(bot, request.POST)
    saved = False
    if form.is_valid():
        try:
            bot = bot_update(bot=bot, **form.service_fields())
        except ValidationError as exc:
            apply_service_errors(form, exc)
            bot.refresh_from_db()
        else:
            saved = True
            form = _bot_form(bot)
    status = 200 if saved else 400
    if request.htmx:
        return render(request, "studio/bots/_form.html", {"bot": bot, "form": form, "saved": saved}, status=status)
    if saved:
        messages.success(request, "Saved.")
        return redirect("studio:bot_edit", bot_id=bot.id)
    return render(request, "studio/bots/edit.html", _bot_page_context(bot, form), status=status)


@staff_required
@require_POST
def bot_delete_view(request: HttpRequest, bot_id: Any) -> HttpResponse:
    bot = get_object_or_404(Bot, pk=bot_id)
    name = bot.name
    bot_delete(bot=bot)
    messages.success(request, f"Bot “{name}” and its conversations were deleted.")
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = reverse("studio:dashboard")
        return response
    return redirect("studio:dashboard")


# --- system tools ----------------------------------------------------------------------------------


def system_tool_rows(bot: Bot) -> list[dict[str, Any]]:
    """One row per registered system tool: name, description, enabled, can_disable."""
    return system_tools_for_bot(bot)


@staff_required
@require_POST
def bot_system_tools(request: HttpRequest, bot_id: Any) -> HttpResponse:
    """Save the system-tool toggles: every can-disable tool left unchecked becomes disabled.

    Integration names already in disabled_tools are kept (integrations have their own switch).
    """
    bot = get_object_or_404(Bot, pk=bot_id)
    checked = set(request.POST.getlist("enabled"))
    system = {row["name"]: row for row in system_tool_rows(bot)}
    keep = [name for name in (bot.disabled_tools or []) if name not in system]
    newly_disabled = [name for name, row in system.items() if row["can_disable"] and name not in checked]
    error = ""
    try:
        bot = bot_update(bot=bot, disabled_tools=keep + newly_disabled)
    except ValidationError as exc:
        error = "; ".join(exc.messages)
    context = {"bot": bot, "system_tools": system_tool_rows(bot), "saved": not error, "error": error}
    if request.htmx:
        return render(request, "studio/bots/_system_tools.html", context, status=400 if error else 200)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, "System tools updated.")
    return redirect("studio:bot_edit", bot_id=bot.id)
