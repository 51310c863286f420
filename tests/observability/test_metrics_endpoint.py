"""GET /metrics: refused to anyone but a staff token/session or an allow-listed source address."""

from __future__ import annotations

import pytest

from tests.user_data import api_token

pytestmark = pytest.mark.django_db


def test_it_refuses_anonymous_requests_by_default_with_a_json_body(anonymous_client):
    response = anonymous_client.get("/metrics", HTTP_ACCEPT="text/plain")
    assert response.status_code in (401, 403)
    assert response["Content-Type"].startswith("application/json")
    assert "detail" in response.json()
    assert b"voicebot_" not in response.content


def test_it_refuses_a_non_staff_token(client, stranger_user):
    token = api_token(stranger_user)
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 403 and "detail" in response.json()


def test_a_staff_token_gets_the_prometheus_text_format(client, staff_token):
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Token {staff_token}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    body = response.content.decode()
    assert "# TYPE voicebot_turns_total counter" in body
    assert "# TYPE voicebot_voice_to_voice_seconds histogram" in body
    assert "# TYPE voicebot_open_sockets gauge" in body
    assert "django_http_requests_total_by_method_total" in body  # django-prometheus's HTTP side


def test_an_allow_listed_address_gets_metrics_without_a_token(anonymous_client, settings):
    settings.VOICEBOT_METRICS_ALLOWED_IPS = ["10.0.0.0/8", "127.0.0.1"]
    response = anonymous_client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200 and b"voicebot_turns_total" in response.content
    assert anonymous_client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code in (401, 403)


def test_prometheus_can_ask_for_openmetrics(client, staff_token):
    response = client.get(
        "/metrics", HTTP_AUTHORIZATION=f"Token {staff_token}", HTTP_ACCEPT="application/openmetrics-text; version=1.0.0"
    )
    assert response.status_code == 200 and response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.rstrip().endswith(b"# EOF")
