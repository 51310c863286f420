"""The bot page's "Speech models" card: each selected model installed or not, with its size, and a
Download button whose background pull (a thread, progress in the cache) the card polls."""

from __future__ import annotations

import time

import pytest

from audio import model_store
from bots.services import bot_create
from tests.doubles.model_hub import ModelHub
from tests.studio.conftest import HTMX


@pytest.fixture
def hub(settings, tmp_path):
    double = ModelHub().start()
    double.add_repo(
        "Systran/faster-whisper-small",
        {"config.json": b"{}", "model.bin": b"\x00" * 400_000, "tokenizer.json": b"{}", "vocabulary.txt": b"a"},
    )
    settings.VOICEBOT_MODEL_HUB_ENDPOINT = double.url
    settings.VOICEBOT_MODELS_DIR = tmp_path / "models"
    settings.VOICEBOT_PIPER_VOICES_DIR = tmp_path / "models" / "piper"
    yield double
    double.stop()


def _row(html: str, name: str) -> str:
    start = html.index(f'data-model="{name}"')
    return html[start : html.index("</tr>", start)]


def test_the_bot_page_shows_each_model_and_downloads_a_missing_one_with_progress(staff_client, hub):
    bot = bot_create(name="Small", whisper_model="small")
    page = staff_client.get(f"/bots/{bot.pk}/").content.decode()
    assert "Speech models" in page
    assert "not installed" in _row(page, "small") and "~484 MB" in _row(page, "small") and "Download" in page
    assert "installed" in _row(page, "en_US-joe-medium") and "(packaged)" in _row(page, "en_US-joe-medium")
    assert "manage.py voicebot_models pull small" in page

    started = staff_client.post(f"/bots/{bot.pk}/models/download/", {"name": "small"}, **HTMX)
    assert started.status_code == 200
    html = started.content.decode()
    assert "<progress" in html or 'pill-ok">installed' in _row(html, "small")  # running (or already done)

    deadline = time.monotonic() + 60
    while True:  # what the page's htmx polling does
        html = staff_client.get(f"/bots/{bot.pk}/models/", **HTMX).content.decode()
        if 'pill-ok">installed' in _row(html, "small") or time.monotonic() > deadline:
            break
        assert 'hx-trigger="every 1s"' in html
        time.sleep(0.2)
    assert 'pill-ok">installed' in _row(html, "small") and 'hx-trigger="every 1s"' not in html
    assert model_store.asr_model_path("small") is not None


def test_a_failed_download_says_so_on_the_card(staff_client, hub):
    bot = bot_create(name="Medium", whisper_model="medium")  # the hub double has no such repo
    staff_client.post(f"/bots/{bot.pk}/models/download/", {"name": "medium"}, **HTMX)
    deadline = time.monotonic() + 60
    while "alert-error" not in (html := staff_client.get(f"/bots/{bot.pk}/models/").content.decode()):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert "Could not download Systran/faster-whisper-medium from the model hub" in html


def test_only_the_bots_own_models_can_be_downloaded(staff_client, hub):
    bot = bot_create(name="Small", whisper_model="small")
    assert staff_client.post(f"/bots/{bot.pk}/models/download/", {"name": "large-v3"}).status_code == 400
    assert model_store.asr_model_path("large-v3") is None


def test_a_non_staff_user_cannot_start_a_download(stranger_client, hub):
    bot = bot_create(name="Small", whisper_model="small")
    assert stranger_client.post(f"/bots/{bot.pk}/models/download/", {"name": "small"}).status_code == 403
    assert stranger_client.get(f"/bots/{bot.pk}/models/").status_code == 403
    assert model_store.asr_model_path("small") is None
