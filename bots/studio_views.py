"""Studio pages for bots and provider keys, and what every Studio view shares (staff check, formatting).

Views stay thin: parse the form, call a service from `bots.services` / `bots.selectors`, render.
Who may use the Studio: logged-in staff. Anonymous users go to the login page; signed-in non-staff
users get a plain "staff only" page (403) rather than a redirect loop through the login form. HTMX
requests cannot follow a redirect into a fragment, so they get `HX-Redirect` to the login page.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_POST

from bots.models import Bot, ProviderKey
from bots.options import api_options
from bots.selectors import bot_list_with_stats, bot_stats, provider_key_list
from bots.services import (
    bot_create,
    bot_delete,
    bot_update,
    provider_key_check,
    provider_key_create,
    provider_key_delete,
)
from bots.studio_forms import BotForm, ProviderKeyForm, apply_service_errors
from integrations.models import IntegrationTool
from integrations.services_tools import system_tools_for_bot

View = Callable[..., HttpResponse]


def staff_required(view: View) -> View:
    """Decorator for every Studio view; CSRF protection is explicit so no view can drop it."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            login = redirect_to_login(request.get_full_path())
            if getattr(request, "htmx", False):
                response = HttpResponse(status=401)
                response["HX-Redirect"] = login.url
                return response
            return login
        if not (user.is_active and user.is_staff):
            return render(request, "studio/staff_only.html", status=403)
        return view(request, *args, **kwargs)

    return csrf_protect(wrapper)


def fmt_ms(value: int | float | None) -> str:
    """The reference's latency format: "—", "<n>ms" under a second, else "<x.xx>s"."""
    if value is None:
        return "—"
    if value < 1000:
        return f"{int(value)}ms"
    return f"{value / 1000:.2f}s"


def latency_parts(obj: Any, fields: dict[str, str]) -> list[tuple[str, str]]:
    """[(label, formatted)] for the non-null latency attributes of `obj` named in `fields` (attr -> label)."""
    return [(label, fmt_ms(getattr(obj, attr))) for attr, label in fields.items() if getattr(obj, attr) is not None]


# --- dashboard and bot pages -----------------------------------------------------------------------


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


def _bot_form(bot: Bot | None, data: Any = None) -> BotForm:
    return BotForm(data, instance=bot or Bot(), options=api_options(), voices=_voices())


@staff_required
def dashboard(request: HttpRequest) -> HttpResponse:
    rows = []
    for bot in bot_list_with_stats():
        stats = bot_stats(bot)
        latency = f"{fmt_ms(stats['avg_llm_ttfb_ms'])} / {fmt_ms(stats['avg_llm_total_ms'])}"
        rows.append((bot, stats, latency))
    return render(request, "studio/bots/dashboard.html", {"bots": rows})


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


# --- provider keys ---------------------------------------------------------------------------------


def _provider_keys_response(request: HttpRequest, *, status: int = 200, **extra: Any) -> HttpResponse:
    context = {"provider_keys": provider_key_list(), "provider_key_form": ProviderKeyForm(prefix="provider"), **extra}
    return render(request, "studio/keys/_provider_keys.html", context, status=status)


@staff_required
@require_POST
def provider_key_create_view(request: HttpRequest) -> HttpResponse:
    form = ProviderKeyForm(request.POST, prefix="provider")
    if form.is_valid():
        try:
            key = provider_key_create(**form.cleaned_data)
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            notice = f"Key “{key.name}” stored ({key.hint}). The secret will not be shown again."
            if not request.htmx:
                messages.success(request, notice)
                return redirect("studio:keys")
            return _provider_keys_response(request, notice=notice)
    if not request.htmx:
        for field, errors in form.errors.items():
            messages.error(request, f"{field}: {' '.join(errors)}" if field != "__all__" else " ".join(errors))
        return redirect("studio:keys")
    return _provider_keys_response(request, status=400, provider_key_form=form)


@staff_required
@require_POST
def provider_key_delete_view(request: HttpRequest, key_id: Any) -> HttpResponse:
    key = get_object_or_404(ProviderKey, pk=key_id)
    try:
        provider_key_delete(key=key)
    except ValidationError as exc:
        error, notice, status = " ".join(exc.messages), "", 400
    else:
        error, notice, status = "", f"Key “{key.name}” deleted.", 200
    if not request.htmx:
        (messages.error if error else messages.success)(request, error or notice)
        return redirect("studio:keys")
    return _provider_keys_response(request, status=status, error=error, notice=notice)


@staff_required
@require_POST
def provider_key_test_view(request: HttpRequest, key_id: Any) -> HttpResponse:
    key = get_object_or_404(ProviderKey, pk=key_id)
    ok, message = provider_key_check(key)
    if not request.htmx:
        (messages.success if ok else messages.error)(request, f"{key.name}: {message}")
        return redirect("studio:keys")
    return render(request, "studio/keys/_key_test.html", {"ok": ok, "message": message})
