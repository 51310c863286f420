"""What a new user meets first: defaults that work (the stored key, a fast chat model, no tool that
needs a missing backend), a warning when no key can serve a bot, any model name with suggestions
from the key's own model list, and a login page (not a bare 403) in front of the Studio and the docs."""

from __future__ import annotations

import re

import pytest

from bots.models import DEFAULT_CHAT_MODEL, Bot
from bots.services import bot_create, bot_update, provider_key_create
from tests.studio.conftest import bot_form_post

pytestmark = pytest.mark.django_db


def _create_post(**overrides):
    """The new-bot form as a browser posts it after only the name was typed (the defaults as rendered)."""
    return bot_form_post(**overrides)


def test_the_new_bot_form_chooses_the_newest_stored_key(staff_client):
    provider_key_create(name="Old", secret="sk-old-0123456789abcdef")
    newest = provider_key_create(name="Local Ollama", secret="sk-new-0123456789abcdef")

    html = staff_client.get("/bots/new/").content.decode()

    assert f'<option value="{newest.id}" selected>' in html


def test_a_bot_created_without_a_key_gets_the_stored_one(staff_user):
    key = provider_key_create(name="Only", secret="sk-only-0123456789abcdef")

    assert bot_create(name="Helper").openai_key == key


def test_a_new_bot_has_a_fast_chat_model_and_the_packaged_speech_model():
    bot = bot_create(name="Helper")

    assert bot.openai_model == DEFAULT_CHAT_MODEL != "o4-mini"
    assert bot.whisper_model == "tiny.en"


def test_web_search_is_off_on_a_new_bot_without_a_search_backend(staff_client):
    staff_client.post("/bots/new/", _create_post())
    bot = Bot.objects.get(name="Helper")

    assert bot.disabled_tools == ["web_search"]
    html = staff_client.get(f"/bots/{bot.id}/").content.decode()
    assert (
        re.search(r'<input type="checkbox" name="enabled" value="web_search"[^>]*>', html).group(0).count("checked")
        == 0
    )


def test_web_search_is_on_when_a_searxng_backend_is_configured(settings):
    settings.VOICEBOT_SEARXNG_URL = "http://127.0.0.1:8888"

    assert bot_create(name="Searcher").disabled_tools == []


def test_the_bot_page_warns_when_no_key_can_serve_the_bot(staff_client, bot):
    html = staff_client.get(f"/bots/{bot.id}/").content.decode()

    assert 'id="no-key-warning"' in html
    assert "no provider key and the server has no OPENAI_API_KEY" in html


def test_no_warning_with_a_stored_key_or_a_server_key(staff_client, bot, settings):
    key = provider_key_create(name="Mine", secret="sk-mine-0123456789abcdef")
    bot_update(bot=bot, openai_key_id=key.id)
    assert 'id="no-key-warning"' not in staff_client.get(f"/bots/{bot.id}/").content.decode()

    bot_update(bot=bot, openai_key_id=None)
    settings.OPENAI_API_KEY = "sk-server"
    assert 'id="no-key-warning"' not in staff_client.get(f"/bots/{bot.id}/").content.decode()


def test_an_htmx_save_that_picks_a_key_clears_the_warning(staff_client, bot):
    key = provider_key_create(name="Mine", secret="sk-mine-0123456789abcdef")
    post = _create_post(name=bot.name, openai_key=str(key.id))

    html = staff_client.post(f"/bots/{bot.id}/", post, HTTP_HX_REQUEST="true").content.decode()

    assert "Saved." in html and 'id="no-key-warning"' not in html


def test_a_custom_model_name_is_accepted(staff_client):
    response = staff_client.post("/bots/new/", _create_post(openai_model="llama3.2:3b-instruct-q4_K_M"))

    assert response.status_code == 302
    assert Bot.objects.get(name="Helper").openai_model == "llama3.2:3b-instruct-q4_K_M"


def test_the_model_field_suggests_the_selected_keys_models(staff_client, openai_double):
    key = provider_key_create(name="Double", secret="sk-double-0123456789", base_url=openai_double.base_url)

    html = staff_client.get("/bots/new/").content.decode()

    assert f'list="models-{key.id}"' in html
    own = re.search(rf'<datalist id="models-{key.id}">(.*?)</datalist>', html, re.S).group(1)
    assert '<option value="gpt-5-mini">' in own and '<option value="o4-mini">' in own  # the double's /v1/models
    assert '<datalist id="models-default">' in html  # for "no key" and keys whose list is unknown


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/", "/", "/keys/", "/conversations/"])
def test_anonymous_visitors_of_docs_and_studio_pages_are_sent_to_log_in(anonymous_client, path):
    response = anonymous_client.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={path}"


def test_the_api_docs_are_served_from_our_own_files_under_the_csp(staff_client):
    page = staff_client.get("/api/docs/")
    html = page.content.decode()
    script = staff_client.get("/api/docs/?script=")

    assert page.status_code == 200
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None  # no inline script
    assert "script-src 'self';" in page.headers["Content-Security-Policy"] + ";"
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()
    redoc = staff_client.get("/api/redoc/").content.decode()
    assert "redoc.standalone.js" in redoc and "fonts.googleapis" not in redoc


def _steps(html: str) -> dict[str, bool]:
    found = re.findall(r'<li class="step( done)?" data-step="(\w+)">', html)
    return {name: bool(done) for done, name in found}


def test_the_empty_dashboard_walks_through_key_bot_test_embed(staff_client):
    html = staff_client.get("/").content.decode()

    assert _steps(html) == {"key": False, "bot": False, "test": False, "embed": False}
    assert "Add a provider key</a> first" in html


def test_each_step_is_ticked_from_the_database(staff_client):
    from conversations.models import Conversation
    from conversations.services import conversation_start
    from embed.services import client_key_create

    provider_key_create(name="Mine", secret="sk-mine-0123456789abcdef")
    bot = bot_create(name="Helper")
    assert _steps(staff_client.get("/").content.decode()) == {"key": True, "bot": True, "test": False, "embed": False}

    conversation_start(bot=bot, channel=Conversation.Channel.STUDIO)  # the bot tried in the Studio
    client_key_create(name="Site")
    assert 'id="first-steps"' not in staff_client.get("/").content.decode()  # all done: the list goes away


def test_a_client_key_can_show_turn_details_in_the_widget(staff_client):
    from embed.models import ClientKey

    staff_client.post("/keys/client/", {"client-name": "Site", "client-show_turn_details": "on"})
    key = ClientKey.objects.get(name="Site")
    assert key.show_turn_details is True

    prefix = f"k{key.pk.hex[:8]}"
    staff_client.post(f"/keys/client/{key.pk}/", {f"{prefix}-name": "Site"})
    key.refresh_from_db()
    assert key.show_turn_details is False
    assert 'name="client-show_turn_details"' in staff_client.get("/keys/").content.decode()


def test_a_new_bot_takes_a_fast_model_the_keys_server_lists(staff_client, openai_double):
    provider_key_create(name="Double", secret="sk-double-0123456789", base_url=openai_double.base_url)

    html = staff_client.get("/bots/new/").content.decode()

    # the double lists gpt-4o, gpt-4o-mini, gpt-5-mini and o4-mini, not gpt-4.1-mini
    assert 'name="openai_model" value="gpt-4o-mini"' in html
