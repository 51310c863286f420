"""The Studio's Keys page: provider keys (`bots`) and client keys (`embed`), with their actions.

A new client key's secret and signing secret are rendered once, in the response to the POST that made
them (never put in the session or a redirect), next to the ready-to-paste `<script>` tag.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from bots.models import Bot, ProviderKey
from bots.selectors import provider_key_list
from bots.services import provider_key_create, provider_key_delete
from bots.studio_forms import ProviderKeyForm, apply_service_errors
from conversations.provider_keys import provider_key_check
from embed.models import ClientKey
from embed.services import EmbedInputError, client_key_create, client_key_list, client_key_revoke, client_key_update
from embed.studio_forms import ClientKeyForm, ClientKeyUpdateForm
from studio.permissions import staff_required


def widget_snippet(request: HttpRequest, *, bot_id: str, secret: str) -> str:
    """The `<script>` tag a site pastes (the widget's data attributes, INVENTORY §11)."""
    origin = request.build_absolute_uri("/").rstrip("/")
    return (
        f'<script src="{origin}/public/widget.js" data-bot-id="{bot_id}" data-api-key="{secret}" '
        f'data-user-conversation-id="REPLACE-WITH-A-STABLE-USER-ID" data-title="Chat with us" async></script>'
    )


def _client_keys_context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    include_revoked = request.GET.get("include_revoked", "").lower() in ("1", "true", "yes", "on")
    keys = list(client_key_list(include_revoked=include_revoked))
    bot_names = {str(pk): name for pk, name in Bot.objects.values_list("pk", "name")}
    for key in keys:
        key.bot_names = [bot_names.get(str(b), str(b)) for b in key.allowed_bot_ids or []]
        key.edit_form = ClientKeyUpdateForm(
            initial={
                "name": key.name,
                "allowed_origins": key.allowed_origins,
                "allowed_bot_ids": key.allowed_bot_ids,
                "show_turn_details": key.show_turn_details,
            },
            prefix=f"k{key.pk.hex[:8]}",
        )
    context = {
        "client_keys": keys,
        "client_key_form": ClientKeyForm(prefix="client"),
        "include_revoked": include_revoked,
        "revoked_count": ClientKey.objects.filter(revoked_at__isnull=False).count(),
    }
    context.update(extra)
    return context


def _provider_keys_context(**extra: Any) -> dict[str, Any]:
    return {
        "provider_keys": provider_key_list(),
        "provider_key_form": ProviderKeyForm(prefix="provider"),
        "server_key": bool(settings.OPENAI_API_KEY),
        **extra,
    }


def keys_context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    context = _provider_keys_context()
    context.update(_client_keys_context(request))
    context.update(extra)
    return context


@staff_required
def keys_page(request: HttpRequest) -> HttpResponse:
    return render(request, "studio/keys/page.html", keys_context(request))


def _client_keys_response(request: HttpRequest, status: int = 200, **extra: Any) -> HttpResponse:
    if request.htmx:
        return render(request, "studio/keys/_client_keys.html", _client_keys_context(request, **extra), status=status)
    return render(request, "studio/keys/page.html", keys_context(request, **extra), status=status)


@staff_required
@require_POST
def client_key_create_view(request: HttpRequest) -> HttpResponse:
    form = ClientKeyForm(request.POST, prefix="client")
    if form.is_valid():
        try:
            key, secret, signing_secret = client_key_create(**form.service_fields())
        except EmbedInputError as exc:
            form.add_service_error(exc)
        else:
            snippet_bot = (key.allowed_bot_ids or [None])[0] or Bot.objects.values_list("pk", flat=True).first()
            revealed = {
                "key": key,
                "secret": secret,
                "signing_secret": signing_secret,
                "snippet": widget_snippet(request, bot_id=str(snippet_bot or "YOUR-BOT-ID"), secret=secret),
            }
            return _client_keys_response(request, revealed=revealed)
    return _client_keys_response(request, status=400, client_key_form=form)


@staff_required
@require_POST
def client_key_update_view(request: HttpRequest, key_id: Any) -> HttpResponse:
    key = get_object_or_404(ClientKey, pk=key_id)
    form = ClientKeyUpdateForm(request.POST, prefix=f"k{key.pk.hex[:8]}")
    error = ""
    if form.is_valid():
        try:
            fields = form.service_fields()
            client_key_update(key, **fields)
        except EmbedInputError as exc:
            error = str(exc)
    else:
        error = "; ".join(f"{field}: {' '.join(errs)}" for field, errs in form.errors.items())
    if error:
        return _client_keys_response(request, status=400, client_key_error=error)
    if not request.htmx:
        messages.success(request, f"Client key “{key.name}” updated.")
        return redirect("studio:keys")
    return _client_keys_response(request, notice=f"Client key “{key.name}” updated.")


@staff_required
@require_POST
def client_key_revoke_view(request: HttpRequest, key_id: Any) -> HttpResponse:
    key = client_key_revoke(get_object_or_404(ClientKey, pk=key_id))
    if not request.htmx:
        messages.success(request, f"Client key “{key.name}” revoked.")
        return redirect("studio:keys")
    return _client_keys_response(request, notice=f"Client key “{key.name}” revoked: it stops working at once.")


# --- provider keys ---------------------------------------------------------------------------------


def _provider_keys_response(request: HttpRequest, *, status: int = 200, **extra: Any) -> HttpResponse:
    return render(request, "studio/keys/_provider_keys.html", _provider_keys_context(**extra), status=status)


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
