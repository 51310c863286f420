"""Every HTTP request body is bounded before it is parsed, against a real server process.

The server is the one `make run` starts (uvicorn on config.asgi, default settings, this test's SQLite
database). Under daphne these fail: it buffered and parsed a whole multipart body before the app saw
a byte (400 MiB peaked its RSS at +4.8 GiB, measured by scripts/measure_asgi_servers.py).
"""

from __future__ import annotations

import json
import socket
import time
import uuid

import pytest
import requests
from django.conf import settings

from tests.e2e.conftest import run_server, server_env
from tests.security.http_stream import MIB, PeakRss, post_streamed, rss_kib
from tests.user_data import api_token

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

RSS_GROWTH_LIMIT_KIB = 64 * 1024
BODY_BUDGET_S = 2.0


@pytest.fixture
def server(transactional_db, tmp_path):
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
        pytest.skip("the live server fixture shares the SQLite test database file")
    env = server_env(extra={"VOICEBOT_REQUEST_BODY_TIMEOUT_S": str(BODY_BUDGET_S)})
    with run_server(env, tmp_path / "server.log") as live:
        yield live


def _port(server) -> int:
    return int(server.url.rsplit(":", 1)[1])


def _attack(server, path: str, size: int, *, chunked: bool = False) -> tuple[int | None, int]:
    pid = server.process.pid
    before = rss_kib(pid)
    with PeakRss(pid) as peak:
        status, _seconds = post_streamed(_port(server), path, size, chunked=chunked, deadline_s=60)
    assert server.process.poll() is None, server.log()
    return status, peak.peak - before


def test_a_400_mib_anonymous_upload_to_talk_stream_is_refused_413_without_growing_the_server(server):
    status, growth_kib = _attack(server, f"/api/bots/{uuid.uuid4()}/talk/stream", 400 * MIB)

    assert status == 413
    assert growth_kib < RSS_GROWTH_LIMIT_KIB, f"server RSS grew {growth_kib / 1024:.1f} MiB"


def test_a_400_mib_chunked_upload_without_a_length_is_cut_off_413_as_it_streams(server):
    status, growth_kib = _attack(server, f"/api/bots/{uuid.uuid4()}/talk/stream", 400 * MIB, chunked=True)

    assert status == 413
    assert growth_kib < RSS_GROWTH_LIMIT_KIB, f"server RSS grew {growth_kib / 1024:.1f} MiB"


def test_a_100_mib_post_to_healthz_is_refused_413_without_growing_the_server(server):
    status, growth_kib = _attack(server, "/healthz", 100 * MIB)

    assert status == 413
    assert growth_kib < RSS_GROWTH_LIMIT_KIB, f"server RSS grew {growth_kib / 1024:.1f} MiB"


def test_the_413_answer_is_json_with_a_detail(server):
    response = requests.post(server.url + "/healthz", data=b"x" * (3 * MIB), timeout=30)

    assert response.status_code == 413
    assert "at most" in response.json()["detail"]


def test_a_body_trickled_slower_than_the_budget_is_answered_408(server):
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", _port(server)), timeout=30) as sock:
        sock.sendall(
            b"POST /api/bots HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n{"
        )
        answer = b""
        sock.settimeout(0.5)
        while time.monotonic() - started < 30 and b"\r\n\r\n" not in answer:
            try:
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
            except TimeoutError:
                try:
                    sock.sendall(b" ")  # one byte every half second: far too slow
                except OSError:
                    break
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert time.monotonic() - started < 20  # generous: the budget is 2 s


def test_ordinary_requests_still_work(server, staff_user, bot):
    browser = requests.Session()
    login_page = browser.get(server.url + "/login/", timeout=10)
    assert login_page.status_code == 200
    logged_in = browser.post(
        server.url + "/login/",
        data={"username": "staff", "password": "staff-pass-123!", "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        headers={"Referer": server.url + "/login/"},
        allow_redirects=False,
        timeout=10,
    )
    assert logged_in.status_code == 302, logged_in.text[:500]
    assert browser.get(server.url + "/", timeout=10).status_code == 200

    token = api_token(staff_user)
    api = {"Authorization": f"Token {token}"}
    listed = requests.get(server.url + "/api/bots", headers=api, timeout=10)
    assert listed.status_code == 200 and str(bot.id) in listed.text
    created = requests.post(
        server.url + "/api/bots", headers=api, json={"name": "Made over the API", "system_prompt": "Hi."}, timeout=10
    )
    assert created.status_code == 201, created.text[:500]
    assert json.loads(created.text)["name"] == "Made over the API"

    # 3 MiB is over the default body limit but within VOICEBOT_MAX_UPLOAD_BYTES: with credentials the
    # upload reaches the view (a bot that does not exist: 404), without them it is refused first.
    audio = {"audio": ("a.wav", b"\0" * (3 * MIB), "audio/wav")}
    missing_bot = server.url + f"/api/bots/{uuid.uuid4()}/talk/stream"
    assert requests.post(missing_bot, headers=api, files=audio, timeout=30).status_code == 404
    assert requests.post(missing_bot, files=audio, timeout=30).status_code == 413
