"""`/api/options`: the reference's keys, this build's engines, and the live model list through the real SDK."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.cache import cache

pytestmark = pytest.mark.django_db


class _ModelsHandler(BaseHTTPRequestHandler):
    """Speaks just `GET /v1/models` of the OpenAI API."""

    calls = 0

    def do_GET(self):
        type(self).calls += 1
        if self.path.rstrip("/") != "/v1/models":
            self.send_error(404)
            return
        models = ["gpt-test-live", "o9-live", "tts-1", "whisper-1", "text-embedding-3-small", "dall-e-3"]
        body = json.dumps(
            {"object": "list", "data": [{"id": m, "object": "model", "created": 0, "owned_by": "t"} for m in models]}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def models_server() -> Iterator[str]:
    _ModelsHandler.calls = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ModelsHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def test_it_lists_the_reference_options_and_our_engines(staff_api):
    response = staff_api.get("/api/options")
    assert response.status_code == 200
    body = response.json()
    for key in (
        "openai_models",
        "openai_pricing",
        "whisper_models",
        "whisper_devices",
        "languages",
        "xtts_models",
        "openai_tts_models",
        "openai_tts_voices",
        "start_message_modes",
        "asr_vendors",
        "tts_vendors",
        "http_methods",
    ):
        assert key in body
    assert body["asr_engines"] == ["faster_whisper", "whisper"]
    assert body["tts_vendors"] == ["piper", "xtts", "openai"]
    assert body["start_message_modes"] == ["llm", "static"]
    assert body["http_methods"] == ["GET", "POST", "PUT", "PATCH", "DELETE"]
    assert "o4-mini" in body["openai_models"] and "gpt-5.1-codex-mini" in body["openai_models"]
    assert body["openai_models"] == sorted(set(body["openai_models"]))


def test_it_adds_pricing_models_to_the_list(staff_api, settings):
    settings.OPENAI_PRICING = {"my-local-model": {"input_per_1m": 1, "output_per_1m": 2}}
    body = staff_api.get("/api/options").json()
    assert "my-local-model" in body["openai_models"]
    assert body["openai_pricing"]["my-local-model"] == {"input_per_1m": 1, "output_per_1m": 2}


def test_it_adds_live_chat_models_once_and_caches_them(staff_api, settings, models_server):
    settings.OPENAI_API_KEY = "sk-live-test"
    settings.OPENAI_BASE_URL = models_server

    first = staff_api.get("/api/options").json()["openai_models"]
    second = staff_api.get("/api/options").json()["openai_models"]

    assert "gpt-test-live" in first and "o9-live" in first
    assert not {"tts-1", "whisper-1", "text-embedding-3-small", "dall-e-3"} & set(first)
    assert second == first
    assert _ModelsHandler.calls == 1


def test_it_keeps_the_curated_list_when_the_live_listing_fails(staff_api, settings, models_server):
    settings.OPENAI_API_KEY = "sk-live-test"
    settings.OPENAI_BASE_URL = models_server.replace("/v1", "/nowhere")
    response = staff_api.get("/api/options")
    assert response.status_code == 200
    assert "o4-mini" in response.json()["openai_models"]


def test_it_refuses_anonymous_and_non_staff_users(anonymous_api, stranger_api):
    assert anonymous_api.get("/api/options").status_code in (401, 403)
    assert stranger_api.get("/api/options").status_code in (401, 403)
