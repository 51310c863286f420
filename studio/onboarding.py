"""The dashboard's first-steps list: provider key → bot → test → embed, each ticked from the database.

A new user sees it on an empty (or unfinished) dashboard; it disappears once every step is done. The
steps are read from rows, never remembered, so deleting the last key brings its step back.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse

from bots.models import Bot, ProviderKey
from conversations.models import Conversation
from embed.models import ClientKey


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    detail: str
    url: str
    action: str
    done: bool


def onboarding_steps() -> list[Step]:
    """The four steps in order, each with whether it is done and where to do it."""
    has_key = ProviderKey.objects.exists() or bool(settings.OPENAI_API_KEY)
    first_bot = Bot.objects.order_by("created_at").first()
    bot_url = reverse("studio:bot_edit", args=[first_bot.pk]) if first_bot else reverse("studio:bot_create")
    has_conversation = Conversation.objects.filter(channel=Conversation.Channel.STUDIO).exists()
    has_client_key = ClientKey.objects.filter(revoked_at__isnull=True).exists()
    return [
        Step(
            "key",
            "Add a provider key",
            "An OpenAI key, or the base URL of an OpenAI-compatible server (Ollama, vLLM, llama.cpp).",
            reverse("studio:keys"),
            "Add a key",
            has_key,
        ),
        Step(
            "bot",
            "Create a bot",
            "A name is enough: it uses your newest key, a fast model and the voice that ships with the Studio.",
            reverse("studio:bot_create"),
            "New bot",
            first_bot is not None,
        ),
        Step(
            "test",
            "Talk to it",
            "Type or speak in the bot page's test panel.",
            bot_url + "#mictest",
            "Open the test panel",
            has_conversation,
        ),
        Step(
            "embed",
            "Put it on your website",
            "Create a client key and paste its snippet into your page.",
            reverse("studio:keys") + "#client-keys",
            "Create a client key",
            has_client_key,
        ),
    ]
