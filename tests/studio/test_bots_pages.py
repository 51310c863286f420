"""Dashboard, bot create/edit/delete and the system-tool toggles."""

from __future__ import annotations

from bots.models import Bot
from bots.services import bot_update, provider_key_create
from conversations.models import Conversation
from tests.studio.conftest import HTMX, bot_form_post


def _bot_post(**overrides):
    """A bot form as a user fills it in: a named sales bot with a static greeting, on `small`."""
    return bot_form_post(
        **{
            "name": "Sales Assistant",
            "system_prompt": "You sell things.",
            "openai_model": "gpt-4o-mini",
            "start_message_mode": "static",
            "start_message_text": "Hello there!",
            "whisper_model": "small",
            **overrides,
        }
    )


def test_it_lists_bots_with_their_stats_on_the_dashboard(staff_client, bot, conversation):
    html = staff_client.get("/").content.decode()
    assert "Test bot" in html
    assert "120 / 30" in html  # tokens in / out
    assert "$0.000123" in html
    assert "420ms / —" in html  # average first-token / total latency


def test_it_shows_an_empty_state_without_bots(staff_client):
    assert "No bots yet" in staff_client.get("/").content.decode()


def test_it_offers_model_slots_engines_and_languages_from_the_options_data(staff_client):
    html = staff_client.get("/bots/new/").content.decode()
    assert '<option value="gpt-5.1-codex-mini"' in html
    assert '<option value="o4-mini"' in html
    assert '<option value="faster_whisper"' in html and '<option value="piper"' in html
    assert '<option value="hi">' in html
    assert 'data-show-if="tts_vendor=xtts"' in html
    assert "(use the server&#x27;s OPENAI_API_KEY)" in html


def test_it_creates_a_bot_and_opens_its_page(staff_client):
    response = staff_client.post("/bots/new/", _bot_post())
    bot = Bot.objects.get(name="Sales Assistant")
    assert response.status_code == 302
    assert response["Location"] == f"/bots/{bot.id}/"
    assert bot.start_message_mode == "static" and bot.start_message_text == "Hello there!"
    assert bot.speaker_wav is None
    page = staff_client.get(response["Location"]).content.decode()
    assert "Bot “Sales Assistant” created." in page


def test_it_shows_validation_errors_next_to_the_fields(staff_client):
    response = staff_client.post(
        "/bots/new/", _bot_post(name="", openai_tts_speed="9", tts_chunk_min_chars="500", tts_chunk_max_chars="100")
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "This field is required." in html
    assert "Ensure this value is less than or equal to 4.0." in html
    assert "Must not be larger than tts_chunk_max_chars." not in html or "has-error" in html
    assert not Bot.objects.exists()


def test_it_reports_the_chunk_size_rule_from_the_service_inline(staff_client):
    response = staff_client.post("/bots/new/", _bot_post(tts_chunk_min_chars="500", tts_chunk_max_chars="100"))
    assert response.status_code == 400
    assert "Must not be larger than tts_chunk_max_chars." in response.content.decode()


def test_it_saves_the_bot_form_as_an_htmx_partial(staff_client, bot):
    key = provider_key_create(name="Personal", secret="sk-test-0123456789abcdef")
    response = staff_client.post(
        f"/bots/{bot.id}/", _bot_post(name="Renamed", openai_key=str(key.id), tts_vendor="openai"), **HTMX
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Saved." in html and "<html" not in html
    bot.refresh_from_db()
    assert bot.name == "Renamed" and bot.openai_key == key and bot.tts_vendor == "openai"


def test_it_keeps_the_stored_bot_when_an_htmx_save_is_invalid(staff_client, bot):
    response = staff_client.post(f"/bots/{bot.id}/", _bot_post(openai_model="bad model!"), **HTMX)
    assert response.status_code == 400
    assert "Model names use letters" in response.content.decode()
    bot.refresh_from_db()
    assert bot.openai_model == "gpt-4o-mini"


def test_it_keeps_a_model_missing_from_the_options_in_the_field(staff_client, bot):
    bot_update(bot=bot, openai_model="llama3.1:8b")
    html = staff_client.get(f"/bots/{bot.id}/").content.decode()
    assert 'name="openai_model" value="llama3.1:8b"' in html


def test_it_answers_404_for_an_unknown_bot(staff_client):
    assert staff_client.get("/bots/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_it_deletes_a_bot_with_its_conversations(staff_client, bot, conversation):
    response = staff_client.post(f"/bots/{bot.id}/delete/", follow=True)
    assert "Bot “Test bot” and its conversations were deleted." in response.content.decode()
    assert not Bot.objects.exists() and not Conversation.objects.exists()


def test_it_refuses_to_delete_with_a_get(staff_client, bot):
    assert staff_client.get(f"/bots/{bot.id}/delete/").status_code == 405
    assert Bot.objects.filter(pk=bot.pk).exists()


def test_it_saves_system_tool_toggles_and_keeps_set_metadata_on(staff_client, bot):
    from conversations.engine import tools

    names = [t.name for t in tools.system_tools()]
    page = staff_client.get(f"/bots/{bot.id}/").content.decode()
    for name in names:
        assert name in page
    can_disable = [t.name for t in tools.system_tools() if t.can_disable]
    response = staff_client.post(f"/bots/{bot.id}/system-tools/", {"enabled": []}, **HTMX)
    assert response.status_code == 200
    assert "Tools updated." in response.content.decode()
    bot.refresh_from_db()
    assert sorted(bot.disabled_tools) == sorted(can_disable)
    assert "set_metadata" not in bot.disabled_tools
