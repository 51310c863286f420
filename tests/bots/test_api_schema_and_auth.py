"""The OpenAPI schema documents the API; token and session authentication work, staff only."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from drf_spectacular.validation import validate_schema
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.user_data import api_token

pytestmark = pytest.mark.django_db

OUR_PATHS = (
    "/api/options",
    "/api/bots",
    "/api/bots/{bot_id}",
    "/api/keys",
    "/api/keys/{key_id}",
    "/api/bots/{bot_id}/tools",
    "/api/bots/{bot_id}/tools/{tool_id}",
    "/api/conversations",
    "/api/conversations/{conversation_id}",
)


def test_it_serves_a_valid_openapi_schema_with_our_paths(staff_client):
    response = staff_client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    for path in OUR_PATHS:
        assert path in schema["paths"], path
    tool_input = schema["components"]["schemas"]["ToolInput"]["properties"]
    assert "headers_template_json" in tool_input
    bot_output = schema["components"]["schemas"]["BotOutput"]["properties"]
    assert {"openai_key_id", "disabled_tools", "tts_vendor", "asr_engine"} <= set(bot_output)


def test_it_renders_the_api_docs_page_for_staff(staff_client):
    assert staff_client.get("/api/docs/").status_code == 200


def test_it_hides_the_schema_from_strangers(stranger_client):
    assert stranger_client.get("/api/schema/").status_code in (401, 403)


def test_it_accepts_a_token_made_by_drf_create_token(staff_user, bot):
    out = io.StringIO()
    call_command("drf_create_token", staff_user.username, stdout=out)
    token = Token.objects.get(user=staff_user).key
    assert token in out.getvalue()

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = api.get("/api/bots")
    assert response.status_code == 200
    assert response.json()["items"][0]["id"] == str(bot.id)

    api.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    refused = api.get("/api/bots")
    assert refused.status_code in (401, 403)
    assert refused.json()["detail"] == "Invalid token."


def test_it_refuses_a_token_of_a_non_staff_user(stranger_user):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_token(stranger_user)}")
    assert api.get("/api/bots").status_code == 403


def test_it_accepts_a_logged_in_staff_session_and_needs_csrf_for_writes(staff_user):
    api = APIClient(enforce_csrf_checks=True)
    api.login(username=staff_user.username, password="staff-pass-123!")
    assert api.get("/api/bots").status_code == 200
    refused = api.post("/api/bots", {"name": "x"}, format="json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]


def test_it_documents_message_metrics_with_the_reference_names(staff_client):
    schema = staff_client.get("/api/schema/", {"format": "json"}).json()
    metrics = schema["components"]["schemas"]["MessageMetrics"]["properties"]
    assert set(metrics) == {"in", "out", "cost", "asr", "llm1", "llm", "tts1", "total"}
