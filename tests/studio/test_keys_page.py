"""The Keys page: provider keys (stored encrypted, hint only, tested with models.list against the loopback
OpenAI double) and client keys (secret and snippet shown once, origins and bots, revoke)."""

from __future__ import annotations

from bots.models import ProviderKey
from bots.services import bot_create, bot_update, provider_key_create
from embed.models import ClientKey
from embed.services import client_key_verify
from tests.studio.conftest import HTMX

SECRET = "sk-test-abcdefghijklmnopqrstuvwxyz"


def test_it_lists_provider_and_client_keys(staff_client):
    provider_key_create(name="Personal", secret=SECRET)
    html = staff_client.get("/keys/").content.decode()
    assert "Provider keys" in html and "Client keys (embed)" in html
    assert "Personal" in html and "sk-t********wxyz" in html
    assert SECRET not in html


def test_it_stores_a_provider_key_and_never_shows_the_secret_back(staff_client):
    response = staff_client.post(
        "/keys/provider/",
        {
            "provider-name": "Ollama",
            "provider-secret": SECRET,
            "provider-base_url": "http://127.0.0.1:11434/v1",
            "provider-api_style": "chat_completions",
        },
        **HTMX,
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Key “Ollama” stored (sk-t********wxyz)." in html and SECRET not in html
    key = ProviderKey.objects.get()
    assert key.get_secret() == SECRET and key.api_style == "chat_completions"
    assert SECRET not in key.secret_ciphertext


def test_it_shows_provider_key_errors_inline(staff_client):
    response = staff_client.post(
        "/keys/provider/",
        {"provider-name": "", "provider-secret": "", "provider-base_url": "not a url", "provider-api_style": "x"},
        **HTMX,
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "This field is required." in html and "Enter a valid URL." in html and "Select a valid choice." in html
    assert not ProviderKey.objects.exists()


def test_it_refuses_to_delete_a_key_a_bot_uses(staff_client, bot):
    key = provider_key_create(name="Personal", secret=SECRET)
    bot_update(bot=bot, openai_key_id=key.id)
    response = staff_client.post(f"/keys/provider/{key.id}/delete/", **HTMX)
    assert response.status_code == 400
    assert "Key is in use by one or more bots. Remove it from bots first." in response.content.decode()
    bot_update(bot=bot, openai_key_id=None)
    response = staff_client.post(f"/keys/provider/{key.id}/delete/", follow=True)
    assert "Key “Personal” deleted." in response.content.decode()
    assert not ProviderKey.objects.exists()


def test_it_tests_a_provider_key_with_a_models_list_call(staff_client, openai_double, settings):
    settings.VOICEBOT_OPENAI_MAX_RETRIES = 0
    key = provider_key_create(name="Double", secret=SECRET, base_url=openai_double.base_url)
    html = staff_client.post(f"/keys/provider/{key.id}/test/", **HTMX).content.decode()
    assert "The key works:" in html and "models available" in html


def test_it_reports_a_key_the_provider_rejects(staff_client, openai_double, settings):
    settings.VOICEBOT_OPENAI_MAX_RETRIES = 0
    key = provider_key_create(name="Dead", secret=SECRET, base_url="http://127.0.0.1:9/v1")
    html = staff_client.post(f"/keys/provider/{key.id}/test/", **HTMX).content.decode()
    assert "alert-error" in html and "Could not reach the model provider" in html


def test_it_creates_a_client_key_and_shows_secret_and_snippet_once(staff_client, bot):
    response = staff_client.post(
        "/keys/client/",
        {
            "client-name": "Acme Website",
            "client-allowed_origins": "https://acme.com, https://*.acme.com",
            "client-allowed_bot_ids": [str(bot.id)],
        },
        **HTMX,
    )
    html = response.content.decode()
    assert response.status_code == 200
    key = ClientKey.objects.get()
    start = html.index('id="new-client-secret">') + len('id="new-client-secret">')
    secret = html[start : html.index("</code>", start)]
    assert client_key_verify(secret) == key
    assert "Copy this key now: it will not be shown again." in html
    assert f"data-bot-id=&quot;{bot.id}&quot; data-api-key=&quot;{secret}&quot;" in html
    assert "/public/widget.js" in html
    assert key.origins == ["https://acme.com", "https://*.acme.com"]
    assert key.allowed_bot_ids == [str(bot.id)]
    assert secret not in staff_client.get("/keys/").content.decode()


def test_it_shows_client_key_errors_inline(staff_client):
    response = staff_client.post(
        "/keys/client/", {"client-name": "Acme", "client-allowed_origins": "acme dot com"}, **HTMX
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "has-error" in html and not ClientKey.objects.exists()


def test_it_updates_origins_and_bots_of_a_client_key(staff_client, bot):
    from embed.services import client_key_create

    key, _secret, _signing = client_key_create(name="Acme")
    prefix = f"k{key.pk.hex[:8]}"
    response = staff_client.post(
        f"/keys/client/{key.id}/",
        {
            f"{prefix}-name": "Acme 2",
            f"{prefix}-allowed_origins": "https://acme.com",
            f"{prefix}-allowed_bot_ids": [str(bot.id)],
        },
        **HTMX,
    )
    assert "Client key “Acme 2” updated." in response.content.decode()
    key.refresh_from_db()
    assert key.name == "Acme 2" and key.origins == ["https://acme.com"] and key.allowed_bot_ids == [str(bot.id)]


def test_it_revokes_a_client_key(staff_client):
    from embed.services import client_key_create

    key, _secret, _signing = client_key_create(name="Acme")
    html = staff_client.post(f"/keys/client/{key.id}/revoke/", **HTMX).content.decode()
    assert "revoked: it stops working at once" in html and "1 revoked key hidden" in html
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert ">revoked</span>" not in staff_client.get("/keys/").content.decode()
    shown = staff_client.get("/keys/?include_revoked=1").content.decode()
    assert ">revoked</span>" in shown and "Hide revoked keys" in shown


def test_the_bot_choices_of_a_client_key_list_every_bot(staff_client, bot):
    bot_create(name="Second bot")
    html = staff_client.get("/keys/").content.decode()
    assert "Test bot" in html and "Second bot" in html
