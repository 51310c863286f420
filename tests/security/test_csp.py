"""Content-Security-Policy on Studio, admin and public pages (the browser check is tests/e2e/test_csp_in_browser.py)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def _policy(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


@pytest.mark.parametrize("path", ["/login/", "/", "/keys/", "/conversations/", "/admin/"])
def test_studio_and_admin_pages_forbid_inline_and_foreign_scripts(staff_client, path):
    response = staff_client.get(path)

    assert response.status_code == 200
    policy = _policy(response)
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]


def test_the_bot_page_with_the_mic_test_allows_its_worklet_and_socket(staff_client, bot):
    policy = _policy(staff_client.get(f"/bots/{bot.id}/"))

    assert policy["script-src"] == ["'self'"]  # the recorder worklet is a file on our origin
    assert policy["connect-src"] == ["'self'"]  # ws:// and wss:// to the same host
    assert "blob:" in policy["media-src"]


def test_the_widget_demo_page_allows_style_blocks_but_no_inline_script(client):
    response = client.get("/public/demo")

    assert response.status_code == 200
    assert "<script>" not in response.content.decode()
    policy = _policy(response)
    assert policy["script-src"] == ["'self'"]
    assert "'unsafe-inline'" in policy["style-src"]


def test_no_studio_template_carries_inline_script_or_event_handler_attributes():
    import re
    from pathlib import Path

    from django.conf import settings

    offenders = []
    for template in Path(settings.BASE_DIR, "templates").rglob("*.html"):
        text = template.read_text()
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) or re.search(r"\son[a-z]+\s*=", text):
            offenders.append(str(template))
    assert offenders == []
