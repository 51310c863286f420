"""Secrets never leave the server in clear: a turn that uses a stored provider key and an integration
tool with a secret header, with every log record captured at DEBUG, then the REST API and the admin
pages that show those objects. The plaintext appears only where it must go (the upstream requests)."""

from __future__ import annotations

import logging

import pytest

from bots.services import bot_update, provider_key_create
from integrations.mock_api import MockApiServer
from tests.integrations.conftest import make_tool

pytestmark = pytest.mark.django_db(transaction=True)
PROVIDER_SECRET = "sk-live-Pr0v1derS3cretValue-0123456789abcdef"
HEADER_SECRET = "Bearer t00l-H3aderS3cret-fedcba9876543210"


def _leaks(text: str) -> list[str]:
    return [s for s in (PROVIDER_SECRET, HEADER_SECRET, HEADER_SECRET.split()[1]) if s in text]


def test_a_turn_with_secrets_keeps_them_out_of_logs_api_output_and_admin(
    bot, staff_api, admin_client, openai_double, settings, caplog
):
    settings.VOICEBOT_HTTP_ALLOWED_HOSTS = ["127.0.0.1"]
    key = provider_key_create(name="Live", secret=PROVIDER_SECRET, base_url=openai_double.base_url)
    bot_update(bot=bot, openai_key_id=key.id)
    with MockApiServer() as api:
        tool = make_tool(bot, name="whoami", url=api.url + "/v1/echo", headers={"Authorization": HEADER_SECRET})
        openai_double.queue_tool_call("whoami", {"args": {}})
        openai_double.queue_text("You are checked.")
        with caplog.at_level(logging.DEBUG):
            response = staff_api.post(f"/api/bots/{bot.pk}/chat", {"text": "who am I?"}, format="json")
            logging.getLogger("tests.security").debug("turn finished")
    assert response.status_code == 200, response.content
    assert openai_double.headers and PROVIDER_SECRET in str(openai_double.headers[0])  # the key was really used

    assert _leaks(caplog.text) == []
    assert _leaks(response.content.decode()) == []
    for url in (
        "/api/keys",
        f"/api/bots/{bot.pk}",
        f"/api/bots/{bot.pk}/tools",
        "/api/bots",
        "/api/conversations",
        f"/api/conversations/{response.json().get('conversation_id', '')}",
    ):
        assert _leaks(staff_api.get(url).content.decode()) == [], url
    for url in (
        f"/admin/bots/providerkey/{key.pk}/change/",
        f"/admin/bots/bot/{bot.pk}/change/",
        f"/admin/integrations/integrationtool/{tool.pk}/change/",
        "/admin/bots/providerkey/",
        "/admin/conversations/message/",
    ):
        page = admin_client.get(url)
        assert page.status_code == 200, url
        assert _leaks(page.content.decode()) == [], url
