"""The widget script at both addresses, and the demo page, for anonymous visitors."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db


def test_the_widget_is_served_at_public_widget_js(anonymous_client):
    response = anonymous_client.get("/public/widget.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    source = response.content.decode()
    assert "window.IntelligravexVoiceBot" in source
    assert source == (Path(settings.BASE_DIR) / "static" / "embed-widget.js").read_text()


def test_the_widget_is_also_a_static_file(anonymous_client):
    response = anonymous_client.get("/static/embed-widget.js")
    assert response.status_code == 200
    assert b"IntelligravexVoiceBot" in b"".join(response.streaming_content)


def test_the_widget_stays_small():
    size = len(gzip.compress((Path(settings.BASE_DIR) / "static" / "embed-widget.js").read_bytes(), 9))
    assert size < 8 * 1024


def test_the_demo_page_offers_a_form_and_loads_the_widget(anonymous_client):
    response = anonymous_client.get("/public/demo?bot_id=abc")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Embed Demo (Text-only)" in page
    assert 'src="/public/widget.js"' in page
    assert 'value="abc"' in page


def test_the_demo_page_escapes_what_it_echoes(anonymous_client):
    page = anonymous_client.get('/public/demo?bot_id="><script>x</script>').content.decode()
    assert "<script>x</script>" not in page
