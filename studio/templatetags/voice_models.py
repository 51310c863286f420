"""`{% voice_models_panel bot %}`: the bot page's "Speech models" card (studio/voice_models.py),
rendered in place so the bot page's view needs no extra context."""

from __future__ import annotations

from typing import Any

from django import template

from bots.models import Bot
from studio.voice_models import voice_models_context

register = template.Library()


@register.inclusion_tag("studio/bots/_models.html")
def voice_models_panel(bot: Bot) -> dict[str, Any]:
    return {"bot": bot, **voice_models_context(bot)}
