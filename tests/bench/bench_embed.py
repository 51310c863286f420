"""Load test of the public chat socket: N concurrent widget conversations against ONE daphne process.

Everything runs on loopback, each part in its own process so they do not share a GIL: the OpenAI
double (300 ms time to first token, 20 ms per token), one daphne serving a fresh SQLite database,
and this process driving N websocket clients (the `websockets` library, speaking the widget's
protocol). Each client connects, sends `start` (the greeting is a model call too), waits until all
clients are ready, then sends CHATS_PER_CLIENT chat messages, each after a random think time.
Two load profiles run for every N (BENCH_EMBED_PROFILES picks, default both):

- `burst`: 0.2-1.5 s between a client's messages, the original aggressive load (N=200 is about
  230 turns a second at its peak); far faster than people type, it measures the process's ceiling.
- `people`: 2-8 s (a person reading the reply and typing the next one; N=200 is about 40 turns
  a second).

Server-added latency of a chat turn = what the client waited minus what the model double itself
took: first token: (first text_delta - send) - TTFT; whole turn: (done - send) - (TTFT + (tokens-1)
x token delay). It covers the socket, the limits, the database writes and the engine. Each N is
bounded (PHASE_TIMEOUT_S) and stops itself; errors are counted, never retried.

    python -m tests.bench embed              # N = 50, 200, 500; burst and people
    BENCH_EMBED_N=20 BENCH_EMBED_PROFILES=people python -m tests.bench embed
    BENCH_EMBED_DB_QUERY="?conn_max_age=600" python -m tests.bench embed   # persistent DB connections
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from tests.e2e.conftest import free_port, server_command, wait_for_http

ROOT = Path(__file__).resolve().parents[2]
TTFT_S = 0.300
TOKEN_DELAY_S = 0.020
REPLY = "Thanks for asking! Our shop opens at nine and closes at six, every day except Sunday."
CHATS_PER_CLIENT = 2
# Seconds between a client's messages, per load profile.
PROFILES = {"burst": (0.2, 1.5), "people": (2.0, 8.0)}
RAMP_S_PER_100 = 1.0  # connections open over N/100 seconds
PHASE_TIMEOUT_S = 240.0
EVENT_TIMEOUT_S = 60.0

_DOUBLE = f"""
import sys, time
sys.path.insert(0, {str(ROOT)!r})
import http.server
http.server.ThreadingHTTPServer.request_queue_size = 2048  # the default listen backlog (5) drops bursts
from tests.doubles.openai_server import OpenAIDouble
d = OpenAIDouble(ttft_s={TTFT_S}, token_delay_s={TOKEN_DELAY_S}, default_text={REPLY!r}).start()
print(d.base_url, flush=True)
sys.stdin.read()  # until the bench closes our stdin
d.stop()
"""

_SEED = """
import json, django
django.setup()
from bots.models import Bot
from embed.services import client_key_create
bot = Bot.objects.create(name="Bench bot", system_prompt="You are a shop assistant.", openai_model="gpt-4o-mini")
_, secret, _ = client_key_create(name="bench")
print(json.dumps({"bot": str(bot.id), "secret": secret}))
"""


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


class _Stack:
    """The double, the database and daphne for one run; stopped in `close()`."""

    def __init__(self) -> None:
        from cryptography.fernet import Fernet

        self.tmp = tempfile.TemporaryDirectory(prefix="bench-embed-")
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "VOICEBOT_ENV_FILE": "/nonexistent/.env",
            # BENCH_EMBED_DB_QUERY="?conn_max_age=600" measures persistent SQLite connections.
            "DATABASE_URL": f"sqlite:///{self.tmp.name}/bench.sqlite3" + os.environ.get("BENCH_EMBED_DB_QUERY", ""),
            "DJANGO_SECRET_KEY": uuid.uuid4().hex * 2,
            "VOICEBOT_SECRET_KEY": Fernet.generate_key().decode(),
            "OPENAI_API_KEY": "sk-bench-double",
            "VOICEBOT_OPENAI_MAX_RETRIES": "0",
            "VOICEBOT_EMBED_RATE_PER_KEY_PER_MINUTE": "1000000",
            "VOICEBOT_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
        self.env.pop("REDIS_URL", None)
        self.double = subprocess.Popen(
            [sys.executable, "-c", _DOUBLE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
        )
        self.env["OPENAI_BASE_URL"] = self.double.stdout.readline().strip()
        self.daphne = None
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=self.env, check=True
        )
        seeded = subprocess.run(
            [sys.executable, "-c", _SEED], cwd=ROOT, env=self.env, check=True, capture_output=True, text=True
        )
        ids = json.loads(seeded.stdout.strip().splitlines()[-1])
        self.bot_id, self.secret = ids["bot"], ids["secret"]
        port = free_port()
        self.log = open(Path(self.tmp.name) / "daphne.log", "w")  # noqa: SIM115 (closed in close())
        self.daphne = subprocess.Popen(
            server_command(port),  # uvicorn, as make run starts it (attribute name kept: .daphne)
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.url = f"ws://127.0.0.1:{port}"
        wait_for_http(f"http://127.0.0.1:{port}/healthz", process=self.daphne)

    def close(self) -> None:
        for process in (self.daphne, self.double):
            if process is None:
                continue
            if process is self.double and process.stdin:
                process.stdin.close()
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        self.log.close()
        self.tmp.cleanup()


async def _events_until(ws, stage_idle: bool = True) -> list[tuple[float, dict]]:
    got = []
    while True:
        raw = await asyncio.wait_for(ws.recv(), EVENT_TIMEOUT_S)
        event = json.loads(raw)
        got.append((time.perf_counter(), event))
        if event["type"] == "status" and event.get("stage") == "idle":
            return got


async def _client(
    index: int, stack: _Stack, ready: list, go: asyncio.Event, results: dict, ramp: float, think: tuple
) -> None:
    import websockets

    url = f"{stack.url}/public/v1/ws/bots/{stack.bot_id}/chat?key={stack.secret}&user_conversation_id=bench-{index}"
    try:
        await asyncio.sleep(random.uniform(0, RAMP_S_PER_100 * ramp))  # ramp the connections
        async with websockets.connect(url, open_timeout=EVENT_TIMEOUT_S, ping_interval=None, max_size=2**20) as ws:
            await ws.send(json.dumps({"type": "start", "req_id": f"s{index}"}))
            events = await _events_until(ws)
            if any(e["type"] == "error" for _, e in events):
                results["errors"] += 1
            ready.append(index)
            await go.wait()
            for turn in range(CHATS_PER_CLIENT):
                await asyncio.sleep(random.uniform(*think))
                sent = time.perf_counter()
                await ws.send(json.dumps({"type": "chat", "req_id": f"c{index}-{turn}", "text": "When do you open?"}))
                events = await _events_until(ws)
                errors = [e for _, e in events if e["type"] == "error"]
                if errors:
                    results["errors"] += 1
                    results["error_samples"].append(errors[0].get("error"))
                    continue
                first = next((t for t, e in events if e["type"] == "text_delta"), None)
                done = next((t for t, e in events if e["type"] == "done"), None)
                if first is None or done is None:
                    results["errors"] += 1
                    continue
                tokens = len(next(e for _, e in events if e["type"] == "done")["text"].split())
                results["first"].append((first - sent - TTFT_S) * 1000)
                results["done"].append((done - sent - TTFT_S - max(0, tokens - 1) * TOKEN_DELAY_S) * 1000)
                results["turns"] += 1
    except Exception as exc:  # a failed client is an error, the others go on
        results["errors"] += 1
        results["error_samples"].append(f"{type(exc).__name__}: {exc}"[:120])


async def _run_n(stack: _Stack, n: int, think: tuple, phase: int) -> dict:
    results = {"first": [], "done": [], "errors": 0, "turns": 0, "error_samples": []}
    ready: list[int] = []
    go = asyncio.Event()
    tasks = [
        asyncio.create_task(_client(i + phase * 10_000, stack, ready, go, results, n / 100, think)) for i in range(n)
    ]
    started = time.perf_counter()
    deadline = started + PHASE_TIMEOUT_S
    while len(ready) + results["errors"] < n and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    results["setup_s"] = time.perf_counter() - started
    go.set()
    _, pending = await asyncio.wait(tasks, timeout=max(1.0, deadline - time.perf_counter()))
    for task in pending:
        task.cancel()
        results["errors"] += 1
    results["wall_s"] = time.perf_counter() - started
    return results


def run() -> list[dict]:
    sizes = [int(x) for x in os.environ.get("BENCH_EMBED_N", "50,200,500").split(",") if x.strip()]
    profiles = [p.strip() for p in os.environ.get("BENCH_EMBED_PROFILES", "burst,people").split(",") if p.strip()]
    rows: list[dict] = []
    stack = _Stack()
    try:
        for phase, (n, profile) in enumerate(((n, p) for p in profiles for n in sizes), start=1):
            think = PROFILES[profile]
            results = asyncio.run(_run_n(stack, n, think, phase))
            expected = n * CHATS_PER_CLIENT
            note = (
                f"{profile}: {think[0]:g}-{think[1]:g} s think time; {results['turns']}/{expected} chat turns ok,"
                f" setup {results['setup_s']:.1f}s, load avg {os.getloadavg()[0]:.1f}"
            )
            if results["error_samples"]:
                note += f"; e.g. {results['error_samples'][0]}"
            for label, values in (("first token", results["first"]), ("whole turn", results["done"])):
                for q in (50, 95):
                    rows.append(
                        {
                            "benchmark": f"embed {profile} N={n}",
                            "metric": f"added latency {label} p{q}",
                            "value": round(_percentile(values, q), 1),
                            "unit": "ms",
                            "notes": note if (label, q) == ("first token", 50) else "",
                        }
                    )
            rows.append(
                {"benchmark": f"embed {profile} N={n}", "metric": "errors", "value": results["errors"], "unit": ""}
            )
            if results["first"]:
                rows.append(
                    {
                        "benchmark": f"embed {profile} N={n}",
                        "metric": "added latency first token mean",
                        "value": round(statistics.fmean(results["first"]), 1),
                        "unit": "ms",
                    }
                )
    finally:
        stack.close()
    return rows
