"""The Studio's Keys page (provider keys and client keys) and the client-key actions.

A new client key's secret and signing secret are rendered once, in the response to the POST that made
them (never put in the session or a redirect), next to the ready-to-paste `<script>` tag.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from bots.models import Bot
from bots.selectors import provider_key_list
from bots.studio_forms import ProviderKeyForm
from bots.studio_views import staff_required
from embed.models import ClientKey
from embed.services import EmbedInputError, client_key_create, client_key_revoke, client_key_update
from embed.studio_forms import ClientKeyForm, ClientKeyUpdateForm


def widget_snippet(request: HttpRequest, *, bot_id: str, secret: str) -> str:
    """The `<script>` tag a site pastes (the widget's data attributes, INVENTORY §11)."""
    origin = request.build_absolute_uri("/").rstrip("/")
    return (
        f'<script src="{origin}/public/widget.js" data-bot-id="{bot_id}" data-api-key="{secret}" '
        f'data-user-conversation-id="REPLACE-WITH-A-STABLE-USER-ID" data-title="Chat with us" async></script>'
    )


def _client_keys_context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    keys = list(ClientKey.objects.order_by("-created_at"))
    bot_names = {str(pk): name for pk, name in Bot.objects.values_list("pk", "name")}
    for key in keys:
        key.bot_names = [bot_names.get(str(b), str(b)) for b in key.allowed_bot_ids or []]
        key.edit_form = ClientKeyUpdateForm(
            initial={"name": key.name, "allowed_origins": key.allowed_origins, "allowed_bot_ids": key.allowed_bot_ids},
            prefix=f"k{key.pk.hex[:8]}",
        )
    context = {"client_keys": keys, "client_key_form": ClientKeyForm(prefix="client")}
    context.update(extra)
    return context


def keys_context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    context = {"provider_keys": provider_key_list(), "provider_key_form": ProviderKeyForm(prefix="provider")}
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
