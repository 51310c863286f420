"""The Django admin renders every model for staff, never shows a secret, and validates like the API."""

from __future__ import annotations

import json

import pytest
from django.contrib.admin.utils import quote
from django.urls import reverse

from bots.models import Bot, ProviderKey
from bots.services import bot_update, provider_key_create
from conversations.models import Conversation, Message
from conversations.services import message_append
from integrations.exports import export_create
from integrations.models import DownloadToken, Export, IntegrationTool, SavedResponse
from integrations.saved import saved_response_create
from integrations.services_tools import tool_create
from tests.user_data import conversation_with

pytestmark = pytest.mark.django_db

KEY_SECRET = "sk-admin-SUPERSECRET-0123456789"
HEADER_TOKEN = "hdr-secret-TOKEN-abcdef123456"


@pytest.fixture
def world(bot):
    key = provider_key_create(name="Main key", secret=KEY_SECRET)
    bot_update(bot=bot, openai_key_id=key.id)
    tool = tool_create(
        bot=bot,
        name="lookup",
        url="https://api.example.com/x",
        headers_template={"Authorization": f"Bearer {HEADER_TOKEN}", "X-Other": HEADER_TOKEN},
    )
    conversation = conversation_with(bot, metadata={"firstName": "Ada", "plan": "gold"})
    message_append(conversation=conversation, role="user", content="Hello there")
    message_append(
        conversation=conversation,
        role="tool",
        content=json.dumps({"tool": "lookup", "arguments": {}}),
        tool_name="lookup",
    )
    saved = saved_response_create(conversation=conversation, tool=tool, payload={"data": [{"a": 1}]}, status_code=200)
    export, token = export_create(conversation=conversation, saved=saved, fmt="csv", content=b"a\n1\n")
    return {
        "key": key,
        "bot": bot,
        "tool": tool,
        "conversation": conversation,
        "saved": saved,
        "export": export,
        "token": token.token,
    }


@pytest.mark.parametrize(
    "model", [Bot, ProviderKey, Conversation, Message, IntegrationTool, SavedResponse, Export, DownloadToken]
)
def test_it_renders_changelists_and_change_pages_without_secrets(admin_client, world, model):
    changelist = admin_client.get(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"))
    assert changelist.status_code == 200
    obj = model.objects.first()
    # quoted as the admin's own links are: a download token is a random string key, and one with "_"
    # followed by two hex digits would otherwise be unquoted into another key (a 302 now and then)
    change = admin_client.get(
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[quote(obj.pk)])
    )
    assert change.status_code == 200
    for page in (changelist, change):
        html = page.content.decode()
        if page is change and model is DownloadToken:
            html = html.replace(quote(obj.pk), "").replace(obj.pk, "")  # the token is the page's own URL key
        assert KEY_SECRET not in html
        assert HEADER_TOKEN not in html
        assert world["key"].secret_ciphertext not in html
        assert world["tool"].headers_ciphertext not in html
        assert world["token"] not in html


def test_it_shows_the_transcript_and_pretty_metadata_on_a_conversation(admin_client, world):
    url = reverse("admin:conversations_conversation_change", args=[world["conversation"].pk])
    html = admin_client.get(url).content.decode()
    assert "Hello there" in html
    assert "&quot;firstName&quot;: &quot;Ada&quot;" in html
    assert "<pre" in html


def test_it_shows_a_bots_tools_inline_with_masked_headers(admin_client, world):
    html = admin_client.get(reverse("admin:bots_bot_change", args=[world["bot"].pk])).content.decode()
    assert "lookup" in html
    assert "Bearer " in html and "********" in html


def test_it_stores_a_provider_key_entered_once(admin_client):
    response = admin_client.post(
        reverse("admin:bots_providerkey_add"),
        {"name": "Added", "provider": "openai", "secret": KEY_SECRET, "base_url": "", "api_style": "responses"},
    )
    assert response.status_code == 302
    key = ProviderKey.objects.get(name="Added")
    assert key.get_secret() == KEY_SECRET
    assert key.hint == "sk-a********6789"
    change = admin_client.get(reverse("admin:bots_providerkey_change", args=[key.pk])).content.decode()
    assert KEY_SECRET not in change and "sk-a********6789" in change


def test_it_requires_the_secret_when_adding_a_key(admin_client):
    response = admin_client.post(
        reverse("admin:bots_providerkey_add"), {"name": "NoSecret", "provider": "openai", "api_style": "responses"}
    )
    assert response.status_code == 200
    assert "Secret is required." in response.content.decode()
    assert not ProviderKey.objects.filter(name="NoSecret").exists()


def _tool_form(bot, **extra):
    data = {
        "bot": str(bot.pk),
        "name": "admin_tool",
        "description": "",
        "url": "https://api.example.com/items",
        "method": "GET",
        "enabled": "on",
        "args_required": "[]",
        "request_body_template": "{}",
        "parameters_schema": "",
        "response_schema": "",
        "response_mapper": "{}",
        "static_reply_template": "",
        "codex_prompt": "",
        "headers_template": json.dumps({"X-Api-Key": HEADER_TOKEN}),
    }
    data.update(extra)
    return data


def test_it_saves_a_tool_with_write_only_headers(admin_client, bot):
    response = admin_client.post(reverse("admin:integrations_integrationtool_add"), _tool_form(bot))
    assert response.status_code == 302, response.content.decode()[:2000]
    tool = IntegrationTool.objects.get(name="admin_tool")
    assert json.loads(tool.get_headers_template()) == {"X-Api-Key": HEADER_TOKEN}
    change = admin_client.get(reverse("admin:integrations_integrationtool_change", args=[tool.pk])).content.decode()
    assert HEADER_TOKEN not in change


def test_it_refuses_a_tool_with_an_invalid_schema_or_reserved_name(admin_client, bot):
    bad_schema = admin_client.post(
        reverse("admin:integrations_integrationtool_add"), _tool_form(bot, parameters_schema='{"type": "nonsense"}')
    )
    assert bad_schema.status_code == 200
    assert "Not a valid JSON Schema" in bad_schema.content.decode()
    reserved = admin_client.post(reverse("admin:integrations_integrationtool_add"), _tool_form(bot, name="web_search"))
    assert "system tool name" in reserved.content.decode()
    assert not IntegrationTool.objects.exists()


def test_it_refuses_the_admin_to_non_staff(stranger_client):
    response = stranger_client.get(reverse("admin:bots_bot_changelist"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
