"""`/api/keys`: provider keys stored encrypted, shown only as a masked hint, refused deletion while in use."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection

from bots.models import ProviderKey
from bots.services import bot_create

pytestmark = pytest.mark.django_db

SECRET = "sk-proj-THISISASECRET1234567890abcdef"


def create_key(api, **extra):
    return api.post("/api/keys", {"provider": "openai", "name": "Main", "secret": SECRET, **extra}, format="json")


def test_it_stores_a_key_and_shows_only_a_masked_hint(staff_api):
    response = create_key(staff_api, base_url="http://127.0.0.1:11434/v1", api_style="chat_completions")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "provider", "name", "hint", "base_url", "api_style", "created_at"}
    assert body["hint"] == "sk-p********cdef"
    assert body["api_style"] == "chat_completions"
    assert SECRET not in response.content.decode()
    assert ProviderKey.objects.get(pk=body["id"]).get_secret() == SECRET

    listing = staff_api.get("/api/keys")
    assert listing.status_code == 200
    assert [item["id"] for item in listing.json()["items"]] == [body["id"]]
    assert SECRET not in listing.content.decode()


def test_it_keeps_the_secret_encrypted_in_the_database_column(staff_api):
    key_id = create_key(staff_api).json()["id"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret_ciphertext, hint FROM bots_providerkey WHERE id = %s", [uuid.UUID(key_id).hex])
        ciphertext, hint = cursor.fetchone()
    assert SECRET not in ciphertext
    assert SECRET[6:-4] not in ciphertext
    assert SECRET not in hint
    assert ciphertext.startswith("gAAAAA")  # a Fernet token


def test_it_filters_keys_by_provider(staff_api):
    create_key(staff_api)
    assert len(staff_api.get("/api/keys?provider=openai").json()["items"]) == 1
    assert staff_api.get("/api/keys?provider=other").json()["items"] == []


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"provider": "anthropic", "name": "x", "secret": SECRET}, "provider"),
        ({"name": "x"}, "secret"),
        ({"name": "   ", "secret": SECRET}, "name"),
        ({"name": "x", "secret": "   "}, "secret"),
        ({"name": "x", "secret": SECRET, "api_style": "grpc"}, "api_style"),
        ({"name": "x", "secret": SECRET, "base_url": "not a url"}, "base_url"),
    ],
)
def test_it_refuses_an_invalid_key_with_a_field_error(staff_api, payload, field):
    response = staff_api.post("/api/keys", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not ProviderKey.objects.exists()


def test_it_says_only_openai_is_supported(staff_api):
    response = staff_api.post("/api/keys", {"provider": "azure", "name": "x", "secret": SECRET}, format="json")
    assert response.json()["provider"] == ["Only provider=openai is supported right now."]


def test_it_explains_a_missing_encryption_key_instead_of_crashing(staff_api, settings):
    settings.VOICEBOT_SECRET_KEY = ""
    response = create_key(staff_api)
    assert response.status_code == 400
    assert "VOICEBOT_SECRET_KEY" in response.json()["detail"]


def test_it_refuses_to_delete_a_key_in_use(staff_api):
    key_id = create_key(staff_api).json()["id"]
    bot_create(name="User", openai_key_id=key_id)

    response = staff_api.delete(f"/api/keys/{key_id}")

    assert response.status_code == 400
    assert response.json() == {"detail": "Key is in use by one or more bots. Remove it from bots first."}
    assert ProviderKey.objects.filter(pk=key_id).exists()


def test_it_deletes_an_unused_key(staff_api):
    key_id = create_key(staff_api).json()["id"]
    response = staff_api.delete(f"/api/keys/{key_id}")
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert not ProviderKey.objects.exists()


def test_it_answers_404_for_an_unknown_key(staff_api):
    assert staff_api.delete(f"/api/keys/{uuid.uuid4()}").status_code == 404


def test_it_refuses_anonymous_and_non_staff_users(anonymous_api, stranger_api):
    for api in (anonymous_api, stranger_api):
        assert api.get("/api/keys").status_code in (401, 403)
        assert create_key(api).status_code in (401, 403)
        assert api.delete(f"/api/keys/{uuid.uuid4()}").status_code in (401, 403)
    assert not ProviderKey.objects.exists()
