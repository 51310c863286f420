"""Several server processes, one view of the metrics: two uvicorn processes share PROMETHEUS_MULTIPROC_DIR
(as the scale-out deployment sets it), each serves one turn, and /metrics on either one shows both;
the counters outlive a stopped process."""

from __future__ import annotations

import contextlib
import json
import urllib.request

import pytest
from django.conf import settings

from tests.e2e.conftest import run_server, server_env

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.skipif(
        settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3",
        reason="the server processes share the SQLite test database file",
    ),
]


def _request(url: str, token: str, body: dict | None = None) -> bytes:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    request.add_header("Authorization", f"Token {token}")
    if data:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.read()


def _value(exposition: str, sample: str) -> float:
    for line in exposition.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_two_processes_turns_are_merged_in_metrics(bot, staff_token, openai_double, tmp_path, monkeypatch):
    shared = tmp_path / "prometheus"
    env = server_env(openai_base_url=openai_double.base_url, extra={"PROMETHEUS_MULTIPROC_DIR": str(shared)})
    ok = 'voicebot_turns_total{channel="rest",outcome="ok"}'
    durations = 'voicebot_turn_duration_seconds_count{channel="rest",outcome="ok"}'
    with contextlib.ExitStack() as stack:
        first = stack.enter_context(run_server(env, tmp_path / "a.log"))
        second = stack.enter_context(run_server(env, tmp_path / "b.log"))
        for server in (first, second):
            reply = json.loads(_request(f"{server.url}/api/bots/{bot.pk}/chat", staff_token, {"text": "hi"}))
            assert reply["text"]
        seen_by_first = _request(f"{first.url}/metrics", staff_token).decode()
        seen_by_second = _request(f"{second.url}/metrics", staff_token).decode()
    assert _value(seen_by_first, ok) == _value(seen_by_second, ok) == 2.0
    assert _value(seen_by_first, durations) == 2.0
    assert _value(seen_by_first, 'voicebot_model_ttft_seconds_count{channel="rest"}') == 2.0
    assert len(list(shared.glob("counter_*.db"))) == 2  # one file per process

    # Both processes have stopped: their counters stay in the directory, merged by any reader.
    from observability import metrics

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(shared))
    merged = metrics.registry()
    assert merged.get_sample_value("voicebot_turns_total", {"channel": "rest", "outcome": "ok"}) == 2.0
