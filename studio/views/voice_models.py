"""The bot page's "Speech models" card: the panel (polled by htmx while a download runs) and the
Download button, which starts `audio.model_downloads` in a background thread. No request waits for a
download."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from audio import model_downloads
from bots.models import Bot
from studio.permissions import staff_required
from studio.voice_models import voice_model_rows, voice_models_context


def _panel(request: HttpRequest, bot: Bot, status: int = 200) -> HttpResponse:
    context = {"bot": bot, **voice_models_context(bot)}
    return render(request, "studio/bots/_models.html", context, status=status)


@staff_required
def bot_models_panel(request: HttpRequest, bot_id: Any) -> HttpResponse:
    return _panel(request, get_object_or_404(Bot, pk=bot_id))


@staff_required
@require_POST
def bot_model_download(request: HttpRequest, bot_id: Any) -> HttpResponse:
    """Start downloading one of the bot's selected models (only those: the panel offers nothing else)."""
    bot = get_object_or_404(Bot, pk=bot_id)
    name = request.POST.get("name", "")
    offered = {row["name"] for row in voice_model_rows(bot) if row["state"] is not None and row["state"].pullable}
    if name not in offered:
        return _panel(request, bot, status=400)
    model_downloads.start_download(name)
    return _panel(request, bot)
