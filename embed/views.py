"""Public pages of the embed app: the widget script and the demo page (no login; see docs/embed.md)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.shortcuts import render
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET

WIDGET_PATH = Path(settings.BASE_DIR) / "static" / "embed-widget.js"


@lru_cache(maxsize=1)
def _widget_source(mtime: float) -> bytes:
    return WIDGET_PATH.read_bytes()


@require_GET
def widget_js(request: HttpRequest) -> HttpResponse:
    """`/public/widget.js`: the same file as `/static/embed-widget.js`, for existing embeds."""
    try:
        body = _widget_source(WIDGET_PATH.stat().st_mtime)
    except FileNotFoundError:
        return HttpResponseNotFound("widget.js not found", content_type="text/plain")
    response = HttpResponse(body, content_type="application/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=300"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


@require_GET
@xframe_options_sameorigin
def demo(request: HttpRequest) -> HttpResponse:
    """`/public/demo`: try a bot with a client key, on this server's origin."""
    return render(
        request,
        "embed/demo.html",
        {
            "bot_id": request.GET.get("bot_id", ""),
            "user_conversation_id": request.GET.get("user_conversation_id", "user_123"),
        },
    )
