"""The database locked by another writer (SQLite busy) or missing when the server starts: load balancers
see `/healthz` 503, the REST API answers 503 `{"detail"}` and keeps the stored rows, and operators'
management commands print one clear `CommandError` line (exit 1), never a traceback."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from django.db import connection

from bots.models import Bot
from bots.services import bot_create
from tests.e2e.conftest import ROOT, free_port, server_command

BROKEN_DB = "sqlite:////nonexistent-voicebot-dir/missing.sqlite3"


def _env(database_url: str) -> dict[str, str]:
    import os

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "VOICEBOT_ENV_FILE": "/nonexistent/.env",
        "DATABASE_URL": database_url,
        "DJANGO_DEBUG": "false",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("REDIS_URL", None)
    return env


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_healthz_answers_503_when_the_database_cannot_be_opened(tmp_path):
    port = free_port()
    with (tmp_path / "server.log").open("w") as log:
        server = subprocess.Popen(
            server_command(port),
            cwd=ROOT,
            env=_env(BROKEN_DB),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            status, body = None, ""
            for _ in range(150):  # bounded: the server needs a moment to listen
                try:
                    status, body = _get(f"http://127.0.0.1:{port}/healthz")
                    break
                except OSError:
                    assert server.poll() is None, (tmp_path / "server.log").read_text()
                    time.sleep(0.2)
            assert status == 503 and json.loads(body) == {
                "ok": False,
                "database": "unavailable",
                "detail": "OperationalError",
            }
            status, body = _get(f"http://127.0.0.1:{port}/api/bots")
            assert status != 200 and "Traceback" not in body and "nonexistent-voicebot-dir" not in body
            assert server.poll() is None  # still serving: it recovers when the database comes back
        finally:
            server.terminate()
            server.wait(timeout=10)


@pytest.mark.parametrize("command", ["voicebot_cleanup", "voicebot_bootstrap_admin"])
def test_management_commands_give_one_clear_line_when_the_database_is_unavailable(command, tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", command],
        cwd=ROOT,
        env=_env(BROKEN_DB),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "CommandError: Database unavailable" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's file lock (the embedded profile)")
@pytest.mark.django_db(transaction=True)
def test_a_write_while_sqlite_is_locked_answers_503_and_keeps_the_stored_rows(staff_api):
    bot_create(name="Kept bot", system_prompt="x", openai_model="gpt-4o-mini")
    connection.close()
    connection.settings_dict["OPTIONS"] = {**connection.settings_dict.get("OPTIONS", {}), "timeout": 0.3}
    holder = sqlite3.connect(connection.settings_dict["NAME"], timeout=1, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")  # another process is writing
        response = staff_api.post("/api/bots", {"name": "New bot"}, format="json")
        assert response.status_code == 503
        assert response.json() == {"detail": "The database is busy or unavailable; please try again."}
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        connection.close()
        connection.settings_dict["OPTIONS"]["timeout"] = 20

    assert list(Bot.objects.values_list("name", flat=True)) == ["Kept bot"]
    response = staff_api.post("/api/bots", {"name": "New bot"}, format="json")  # the lock is gone: it works
    assert response.status_code == 201, response.content
