"""Scale-out profile: two uvicorn processes and a Celery worker sharing PostgreSQL and Redis.

Runs only in the scale profile (`make test-scale`, called by `.ci/run`), which starts PostgreSQL and
Redis on 127.0.0.1 and sets DATABASE_URL / REDIS_URL. Shows that a widget conversation continues on
another process, that rate limits and the one-turn lock are shared, and that a Codex script runs on
a real worker (not eagerly in the web process).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import websockets
from django.conf import settings

from tests.e2e.conftest import ROOT, run_server, server_env

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not (os.environ.get("REDIS_URL") and "postgresql" in settings.DATABASES["default"]["ENGINE"]),
        reason="scale profile only: needs DATABASE_URL=postgres://… and REDIS_URL (make test-scale)",
    ),
]

PER_CONVERSATION_LIMIT = 5


def _database_url() -> str:
    db = settings.DATABASES["default"]
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture
def shared_env(openai_double, tmp_path, settings):
    """Environment for every process: the test database, Redis, the double and one data dir."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    settings.MEDIA_ROOT = data_dir
    return server_env(
        openai_base_url=openai_double.base_url,
        extra={
            "DATABASE_URL": _database_url(),
            "REDIS_URL": os.environ["REDIS_URL"],
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "VOICEBOT_DATA_DIR": str(data_dir),
            "VOICEBOT_HTTP_ALLOWED_HOSTS": "127.0.0.1",
            "VOICEBOT_EMBED_RATE_PER_CONVERSATION_PER_MINUTE": str(PER_CONVERSATION_LIMIT),
        },
    )


@pytest.fixture
def two_servers(shared_env, tmp_path):
    with (
        run_server(shared_env, tmp_path / "server-a.log") as first,
        run_server(shared_env, tmp_path / "server-b.log") as second,
    ):
        yield first, second


@pytest.fixture
def celery_worker(shared_env, tmp_path):
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo", "-l", "info"],
            cwd=ROOT,
            env=shared_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while "ready" not in log_path.read_text(errors="replace"):
                if worker.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("celery worker did not start:\n" + log_path.read_text(errors="replace"))
                time.sleep(0.2)
            yield worker, log_path
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()


@pytest.fixture
def widget_key(bot):
    from embed.services import client_key_create

    _key, secret, _signing = client_key_create(name="Scale site", allowed_origins="")
    return secret


def _socket_url(server, bot, secret: str, user_id: str) -> str:
    return f"{server.ws_url}/public/v1/ws/bots/{bot.id}/chat?key={secret}&user_conversation_id={user_id}"


async def _exchange(socket, message: dict, *, until: tuple[str, ...] = ("done", "error")) -> list[dict]:
    """Send one message and collect events until one of `until` (bounded by a timeout)."""
    req_id = str(uuid.uuid4())
    await socket.send(json.dumps({**message, "req_id": req_id}))
    events = []
    async with asyncio.timeout(60):
        while True:
            event = json.loads(await socket.recv())
            events.append(event)
            if event["type"] in until and event.get("req_id") == req_id:
                return events


def _of(events: list[dict], kind: str) -> list[dict]:
    return [e for e in events if e["type"] == kind]


def test_a_widget_conversation_continues_on_the_other_server_process(two_servers, bot, widget_key, openai_double):
    first, second = two_servers
    openai_double.queue_text("Welcome to the shop!")
    openai_double.queue_text("We open at nine.")
    openai_double.queue_text("And we close at six.")

    async def scenario():
        async with websockets.connect(_socket_url(first, bot, widget_key, "user-42")) as socket:
            started = await _exchange(socket, {"type": "start"})
            replied = await _exchange(socket, {"type": "chat", "text": "When do you open?"})
        browser_secret = _of(started, "conversation")[0]["resume_token"]  # what the widget keeps
        async with websockets.connect(_socket_url(second, bot, widget_key, "user-42")) as socket:
            resumed = await _exchange(socket, {"type": "start", "resume_token": browser_secret})
            followed = await _exchange(socket, {"type": "chat", "text": "And close?"})
        return started, replied, resumed, followed

    started, replied, resumed, followed = asyncio.run(scenario())

    conversation_id = _of(started, "conversation")[0]["conversation_id"]
    assert _of(started, "done")[0]["text"] == "Welcome to the shop!"
    assert _of(replied, "done")[0]["text"] == "We open at nine."
    assert _of(resumed, "conversation")[0]["conversation_id"] == conversation_id
    assert _of(resumed, "done")[0]["text"] == ""  # no second greeting for a returning user
    assert _of(followed, "done")[0]["text"] == "And we close at six."

    from conversations.models import Conversation

    stored = Conversation.objects.get(id=conversation_id)
    assert [m.content for m in stored.messages.order_by("created_at")] == [
        "Welcome to the shop!",
        "When do you open?",
        "We open at nine.",
        "And close?",
        "And we close at six.",
    ]


def test_the_per_conversation_rate_limit_counts_messages_on_both_processes(two_servers, bot, widget_key, openai_double):
    first, second = two_servers
    for index in range(PER_CONVERSATION_LIMIT + 1):
        openai_double.queue_text(f"Reply {index}.")

    async def scenario():
        outcomes = []
        for index in range(PER_CONVERSATION_LIMIT + 1):
            server = first if index % 2 == 0 else second
            async with websockets.connect(_socket_url(server, bot, widget_key, "user-7")) as socket:
                events = await _exchange(socket, {"type": "chat", "text": f"Message {index}"})
                outcomes.append(events)
        return outcomes

    outcomes = asyncio.run(scenario())

    for events in outcomes[:PER_CONVERSATION_LIMIT]:
        assert _of(events, "done"), events
    refused = _of(outcomes[-1], "error")
    assert refused and refused[0]["code"] == "rate_limited", outcomes[-1]


def test_a_codex_script_runs_on_the_celery_worker_not_in_the_web_process(
    two_servers, celery_worker, bot, widget_key, openai_double
):
    from integrations.mock_api import MockApiServer
    from integrations.services_tools import tool_create

    first, _second = two_servers
    worker, worker_log = celery_worker
    script = (
        "import json, sys\n"
        "data = json.load(open(sys.argv[1]))\n"
        "open(sys.argv[2], 'w').write('Doctors: ' + ', '.join(d['name'] for d in data['data']))\n"
    )
    with MockApiServer() as mock_api:
        tool_create(
            bot=bot, name="find_doctors", url=mock_api.url + "/v1/doctors?city={{args.city}}", use_codex_response=True
        )
        openai_double.queue_tool_call(
            "find_doctors",
            {"args": {"city": "Pune", "fields_required": "names", "why_api_was_called": "find a doctor"}},
        )
        openai_double.queue_text(
            json.dumps({"STOP_REASON": "DONE", "CONTINUE_REASON": "", "next_step": "STOP", "script": script})
        )
        openai_double.queue_text("Dr. Rahul Jain practises in Pune.")

        async def scenario():
            async with websockets.connect(_socket_url(first, bot, widget_key, "user-9")) as socket:
                return await _exchange(socket, {"type": "chat", "text": "Any doctors in Pune?"})

        events = asyncio.run(scenario())

    assert _of(events, "done")[0]["text"] == "Dr. Rahul Jain practises in Pune."
    assert "integrations.tasks.run_codex_script" in worker_log.read_text(errors="replace")
    from conversations.models import Message

    result = next(m.tool_payload for m in Message.objects.filter(tool_kind="result", tool_name="find_doctors"))
    assert result["result"]["codex_result_text"] == "Doctors: Dr. Rahul Jain"
    assert worker.poll() is None


def test_the_health_endpoint_of_each_process_reports_the_shared_database(two_servers):
    import urllib.request

    for server in two_servers:
        with contextlib.closing(urllib.request.urlopen(server.url + "/healthz", timeout=5)) as response:
            assert json.loads(response.read()) == {"ok": True, "database": "ok"}


def test_the_scale_profile_really_uses_postgresql_and_redis():
    assert "postgresql" in settings.DATABASES["default"]["ENGINE"]
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    assert Path(ROOT / "manage.py").exists()
