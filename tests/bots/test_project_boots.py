"""The project starts: migrations apply, the health endpoint answers, the admin login page renders."""

from __future__ import annotations


def test_it_reports_healthy_when_the_database_answers(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "database": "ok"}


def test_it_serves_the_admin_login_page(client, db):
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert b"Django administration" in response.content or b"VoiceBot" in response.content
