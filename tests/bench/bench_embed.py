"""Load test of the public chat socket: N concurrent widget conversations against the ASGI server.

Everything runs on loopback, each part in its own process so they do not share a GIL: the OpenAI
double (an instant model, or 300 ms to first token and 20 ms per token), the server as `make run`
starts it (`tests.e2e.conftest.server_command`: uvicorn) on a fresh SQLite database, and this
process driving N websocket clients (the `websockets` library, speaking the widget's protocol).
Each client connects, sends `start` (the bot's default greeting is a model call too), waits until
all clients are ready, then sends its chat messages. Load profiles:

- `once`: every client sends one chat at the same instant (the burst ceiling);
- `burst`: two chats each, 0.2-1.5 s apart (far faster than people type);
- `people`: two chats each, 2-8 s apart (a person reading the reply and typing the next one).

Measured per run:
- **server CPU per chat turn**: utime+stime of the server process(es) from /proc over the chat phase
  only (greetings done, all clients connected), divided by the chat turns answered;
- **queries per chat turn**: SQL statements the server ran over the same phase (the server runs
  `tests.bench.counting_asgi`, the project's app with a statement counter);
- **added latency**: what the client waited minus what the model double itself took: first token:
  (first text_delta - send) - TTFT; whole turn: (done - send) - (TTFT + (tokens-1) x token delay).

Errors are counted, never retried; each run is bounded (PHASE_TIMEOUT_S). The load average is in
every row's notes: the machine is shared, so re-run a busy figure.

    python -m tests.bench embed                                   # the default runs (see RUNS)
    BENCH_EMBED_RUNS="300ms:people:500" python -m tests.bench embed
    BENCH_EMBED_RUNS="300ms-x2:once:100" python -m tests.bench embed   # two processes behind Redis
    BENCH_EMBED_RUNS="300ms-x1:once:100" python -m tests.bench embed   # one process behind Redis
    BENCH_EMBED_DB_QUERY="?conn_max_age=600" python -m tests.bench embed
    BENCH_EMBED_PYSPY=/tmp/prof python -m tests.bench embed      # py-spy collapsed stacks per run
    BENCH_EMBED_PIN=1 python -m tests.bench embed                 # server on CPU 0, driver + double on the rest
    BENCH_EMBED_SERVER_ARGS="--ws-per-message-deflate false" python -m tests.bench embed   # extra uvicorn flags

Pinning (Linux, 2+ CPUs) gives the server process one core of its own and keeps the 500-client driver
and the double off it, so the figure is the server's, not the scheduler's mix of three processes on a
2-core machine; the server's database threads then share its one core with its event loop.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from tests.bench.proc import cpu_ms, rss_mib
from tests.e2e.conftest import free_port, server_command, wait_for_http

ROOT = Path(__file__).resolve().parents[2]
# The double's standard two-sentence reply.
REPLY = "Thanks for asking! Our shop opens at nine and closes at six, every day except Sunday."
MODELS = {"instant": (0.0, 0.0), "300ms": (0.300, 0.020)}  # time to first token, delay per token
# Profile: (seconds between a client's messages, chats per client).
PROFILES = {"once": ((0.0, 0.0), 1), "burst": ((0.2, 1.5), 2), "people": ((2.0, 8.0), 2)}
# model[-xP]:profile:N; "-xP" = P server processes behind Redis (channels-redis, Redis cache); without
# it, one process with the in-memory layer and cache (`make run`).
DEFAULT_RUNS = "instant:once:100,300ms:once:100,300ms:people:200,300ms:people:500,300ms-x2:once:100"
RAMP_S_PER_100 = 1.0  # connections open over N/100 seconds
PHASE_TIMEOUT_S = 240.0
EVENT_TIMEOUT_S = 60.0

_DOUBLE = """
import sys, time
sys.path.insert(0, {root!r})
import http.server
http.server.ThreadingHTTPServer.request_queue_size = 2048  # the default listen backlog (5) drops bursts
from tests.doubles.openai_server import OpenAIDouble
d = OpenAIDouble(ttft_s={ttft}, token_delay_s={token}, default_text={reply!r}).start()
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


def _rss_mib(pid: int) -> tuple[float, float]:
    """(resident now, peak resident) of a process, MiB."""
    return rss_mib(pid), rss_mib(pid, "VmHWM")


def _redis() -> tuple[subprocess.Popen, str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is missing (apt-get install -y redis-server)")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            import socket

            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("redis-server did not start")


_CPUS = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
_PINNED = os.environ.get("BENCH_EMBED_PIN") == "1" and len(_CPUS) >= 2


def _pin_to(cpus: set[int]):
    """A Popen preexec_fn: the child and every thread it starts run on `cpus` (None: no pinning)."""
    return (lambda: os.sched_setaffinity(0, cpus)) if _PINNED else None


SERVER_CPUS, OTHER_CPUS = set(_CPUS[:1]), set(_CPUS[1:])


class _Stack:
    """The double, the database, Redis (two processes) and the server(s) for one model; `close()` stops them."""

    def __init__(self, model: str, processes: int = 1, redis: bool = False) -> None:
        from cryptography.fernet import Fernet

        self.ttft_s, self.token_delay_s = MODELS[model]
        self.tmp = tempfile.TemporaryDirectory(prefix="bench-embed-")
        self.servers: list[subprocess.Popen] = []
        self.logs: list = []
        self.redis = None
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
        if redis:
            self.redis, self.env["REDIS_URL"] = _redis()
        script = _DOUBLE.format(root=str(ROOT), ttft=self.ttft_s, token=self.token_delay_s, reply=REPLY)
        self.double = subprocess.Popen(
            [sys.executable, "-c", script],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            preexec_fn=_pin_to(OTHER_CPUS),
        )
        self.env["OPENAI_BASE_URL"] = self.double.stdout.readline().strip()
        if _PINNED:
            os.sched_setaffinity(0, OTHER_CPUS)  # the client driver
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=self.env, check=True
        )
        seeded = subprocess.run(
            [sys.executable, "-c", _SEED], cwd=ROOT, env=self.env, check=True, capture_output=True, text=True
        )
        ids = json.loads(seeded.stdout.strip().splitlines()[-1])
        self.bot_id, self.secret = ids["bot"], ids["secret"]
        self.urls: list[str] = []
        self.http: list[str] = []
        for n in range(processes):
            port = free_port()
            log = open(Path(self.tmp.name) / f"server-{n}.log", "w")  # noqa: SIM115 (closed in close())
            self.logs.append(log)
            server = subprocess.Popen(
                server_command(port, app="tests.bench.counting_asgi:application")
                + os.environ.get("BENCH_EMBED_SERVER_ARGS", "").split(),
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_pin_to(SERVER_CPUS),
            )
            self.servers.append(server)
            self.urls.append(f"ws://127.0.0.1:{port}")
            self.http.append(f"http://127.0.0.1:{port}")
            wait_for_http(f"http://127.0.0.1:{port}/healthz", process=server)

    def stats(self) -> tuple[float, int, float, float, list[float]]:
        """(CPU ms, SQL statements, CPU ms of the event loop's thread, ms in the garbage collector,
        each full collection's ms so far) summed over the server processes."""
        cpu, queries, loop, gc_ms, gc_full = 0.0, 0, 0.0, 0.0, []
        for server, base in zip(self.servers, self.http, strict=True):
            cpu += cpu_ms(server.pid)
            loop += cpu_ms(server.pid, server.pid)  # uvicorn runs the loop on the main thread
            with urllib.request.urlopen(f"{base}/__bench/stats", timeout=10) as answer:
                stats = json.loads(answer.read())
            queries += stats["queries"]
            gc_ms += stats["gc_ms"]
            gc_full += stats["gc_full_ms"]
        return cpu, queries, loop, gc_ms, gc_full

    def redis_commands(self) -> dict[str, int]:
        """Commands the Redis server has run so far, by name (empty without Redis)."""
        if self.redis is None:
            return {}
        import redis

        stats = redis.Redis.from_url(self.env["REDIS_URL"]).info("commandstats")
        return {name.removeprefix("cmdstat_"): entry["calls"] for name, entry in stats.items()}

    def close(self) -> None:
        if self.double.stdin:
            self.double.stdin.close()
        for process in [*self.servers, self.double, self.redis]:
            if process is None:
                continue
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in self.logs:
            log.close()
        self.tmp.cleanup()


async def _events_until(ws) -> list[tuple[float, dict]]:
    got = []
    while True:
        raw = await asyncio.wait_for(ws.recv(), EVENT_TIMEOUT_S)
        event = json.loads(raw)
        got.append((time.perf_counter(), event))
        if event["type"] == "status" and event.get("stage") == "idle":
            return got


async def _client(
    index: int,
    stack: _Stack,
    ready: list,
    go: asyncio.Event,
    results: dict,
    ramp: float,
    think: tuple,
    chats: int,
) -> None:
    import websockets

    base = stack.urls[index % len(stack.urls)]
    url = f"{base}/public/v1/ws/bots/{stack.bot_id}/chat?key={stack.secret}&user_conversation_id=bench-{index}"
    try:
        await asyncio.sleep(random.uniform(0, RAMP_S_PER_100 * ramp))  # ramp the connections
        async with websockets.connect(url, open_timeout=EVENT_TIMEOUT_S, ping_interval=None, max_size=2**20) as ws:
            await ws.send(json.dumps({"type": "start", "req_id": f"s{index}"}))
            events = await _events_until(ws)
            if any(e["type"] == "error" for _, e in events):
                results["errors"] += 1
            ready.append(index)
            await go.wait()
            for turn in range(chats):
                if think[1]:
                    await asyncio.sleep(random.uniform(*think))
                sent = time.perf_counter()
                await ws.send(json.dumps({"type": "chat", "req_id": f"c{index}-{turn}", "text": "When do you open?"}))
                events = await _events_until(ws)
                errors = [e for _, e in events if e["type"] == "error"]
                if errors:
                    results["errors"] += 1
                    results["error_samples"].append(errors[0].get("error"))
                    continue
                results["ack"].append((events[0][0] - sent) * 1000)  # the socket's first answer (conversation)
                llm = next((t for t, e in events if e["type"] == "status" and e.get("stage") == "llm"), None)
                if llm is not None:
                    results["llm"].append((llm - sent) * 1000)  # the turn is running: lock, history, user message
                first = next((t for t, e in events if e["type"] == "text_delta"), None)
                done = next((t for t, e in events if e["type"] == "done"), None)
                if first is None or done is None:
                    results["errors"] += 1
                    continue
                tokens = len(next(e for _, e in events if e["type"] == "done")["text"].split())
                results["first"].append((first - sent - stack.ttft_s) * 1000)
                results["done"].append((done - sent - stack.ttft_s - max(0, tokens - 1) * stack.token_delay_s) * 1000)
                results["turns"] += 1
    except Exception as exc:  # a failed client is an error, the others go on
        results["errors"] += 1
        results["error_samples"].append(f"{type(exc).__name__}: {exc}"[:120])


async def _run_n(stack: _Stack, n: int, profile: str, phase: int) -> dict:
    think, chats = PROFILES[profile]
    results = {"first": [], "done": [], "ack": [], "llm": [], "errors": 0, "turns": 0, "error_samples": []}
    ready: list[int] = []
    go = asyncio.Event()
    tasks = [
        asyncio.create_task(_client(i + phase * 10_000, stack, ready, go, results, n / 100, think, chats))
        for i in range(n)
    ]
    started = time.perf_counter()
    deadline = started + PHASE_TIMEOUT_S
    while len(ready) + results["errors"] < n and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    results["setup_s"] = time.perf_counter() - started
    await asyncio.sleep(0.5)  # let the last greetings' writes settle before the chat phase is measured
    profiler = _profile(stack, f"{phase}-{profile}-{n}")
    cpu_before, queries_before, loop_before, gc_before, full_before = await asyncio.to_thread(stack.stats)
    redis_before = await asyncio.to_thread(stack.redis_commands)
    go.set()
    _, pending = await asyncio.wait(tasks, timeout=max(1.0, deadline - time.perf_counter()))
    cpu_after, queries_after, loop_after, gc_after, full_after = await asyncio.to_thread(stack.stats)
    redis_after = await asyncio.to_thread(stack.redis_commands)
    results["redis_by_name"] = {
        name: calls - redis_before.get(name, 0) - (name == "info") for name, calls in redis_after.items()
    }
    results["redis"] = sum(results["redis_by_name"].values())
    if profiler is not None:
        profiler.send_signal(signal.SIGINT)
        await asyncio.to_thread(profiler.wait, 30)
    for task in pending:
        task.cancel()
        results["errors"] += 1
    results["cpu_ms"] = cpu_after - cpu_before
    results["loop_cpu_ms"] = loop_after - loop_before
    results["queries"] = queries_after - queries_before
    results["rss_mib"] = [_rss_mib(server.pid) for server in stack.servers]
    results["gc_ms"] = gc_after - gc_before
    results["gc_full_ms"] = full_after[len(full_before) :] if len(stack.servers) == 1 else []
    results["wall_s"] = time.perf_counter() - started
    return results


def _profile(stack: _Stack, label: str) -> subprocess.Popen | None:
    """With BENCH_EMBED_PYSPY=<dir>: py-spy (pip install py-spy) records the first server's stacks
    over the chat phase, as collapsed stacks in <dir>/<label>.txt."""
    folder = os.environ.get("BENCH_EMBED_PYSPY")
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not folder:
        return None
    Path(folder).mkdir(parents=True, exist_ok=True)
    # --gil: only the thread holding the GIL is sampled, so threads waiting for it do not count as work.
    command = [
        spy,
        "record",
        "-p",
        str(stack.servers[0].pid),
        "-f",
        "raw",
        "-r",
        "400",
        "--nonblocking",
        "--gil",
        "--threads",
    ]
    process = subprocess.Popen(
        [*command, "-o", f"{folder}/{label}.txt"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    time.sleep(1.0)  # py-spy attaches
    return process


def _runs() -> list[tuple[str, int, str, int]]:
    """(model, processes, profile, N) from BENCH_EMBED_RUNS; processes 0 = one, without Redis."""
    default = DEFAULT_RUNS
    if "BENCH_EMBED_N" in os.environ or "BENCH_EMBED_PROFILES" in os.environ:  # the older knobs: 300 ms model
        sizes = os.environ.get("BENCH_EMBED_N", "50,200,500").split(",")
        profiles = os.environ.get("BENCH_EMBED_PROFILES", "burst,people").split(",")
        default = ",".join(f"300ms:{p.strip()}:{n.strip()}" for p in profiles for n in sizes if n.strip())
    runs = []
    for spec in os.environ.get("BENCH_EMBED_RUNS", default).split(","):
        if not spec.strip():
            continue
        model, profile, n = spec.strip().split(":")
        model, _, copies = model.partition("-x")
        runs.append((model, int(copies or 0), profile, int(n)))
    return runs


def _rows(model: str, processes: int, profile: str, n: int, results: dict) -> list[dict]:
    name = f"embed {model}{' x' + str(processes) + ' Redis' if processes else ''} {profile} N={n}"
    think, chats = PROFILES[profile]
    turns = results["turns"]
    note = (
        f"{turns}/{n * chats} chat turns ok, {results['errors']} errors, setup {results['setup_s']:.1f}s, "
        f"load avg {os.getloadavg()[0]:.1f}"
        + (f"; {processes} process(es), Redis" if processes else "")
        + (
            f"; server pinned to CPU {sorted(SERVER_CPUS)}, driver and double to {sorted(OTHER_CPUS)}"
            if _PINNED
            else ""
        )
        + (f"; e.g. {results['error_samples'][0]}" if results["error_samples"] else "")
    )
    rows = [
        {
            "benchmark": name,
            "metric": "server CPU per chat turn",
            "value": round(results["cpu_ms"] / turns, 2) if turns else float("nan"),
            "unit": "ms",
            "notes": note,
        },
        {
            "benchmark": name,
            "metric": "of which event-loop thread",
            "value": round(results["loop_cpu_ms"] / turns, 2) if turns else float("nan"),
            "unit": "ms",
            "notes": "the rest ran in worker threads (database, cache)",
        },
        {
            "benchmark": name,
            "metric": "queries per chat turn",
            "value": round(results["queries"] / turns, 1) if turns else float("nan"),
            "unit": "queries",
        },
        {"benchmark": name, "metric": "errors", "value": results["errors"], "unit": ""},
        {
            "benchmark": name,
            "metric": "server memory after the chat phase (RSS / peak RSS)",
            "value": " + ".join(f"{now:.0f} / {peak:.0f}" for now, peak in results["rss_mib"]),
            "unit": "MiB",
            "notes": "per server process, read from /proc/<pid>/status (VmRSS, VmHWM)",
        },
        {
            "benchmark": name,
            "metric": "garbage collector per chat turn",
            "value": round(results["gc_ms"] / turns, 2) if turns else float("nan"),
            "unit": "ms",
            "notes": "full collections in the chat phase (each stops the event loop): "
            + (", ".join(f"{ms:.0f} ms" for ms in results["gc_full_ms"]) or "none"),
        },
    ]
    if processes:
        rows.insert(
            3,
            {
                "benchmark": name,
                "metric": "Redis commands per chat turn",
                "value": round(results["redis"] / turns, 1) if turns else float("nan"),
                "unit": "commands",
                "notes": ", ".join(
                    f"{name} {calls / turns:.1f}"
                    for name, calls in sorted(results["redis_by_name"].items(), key=lambda item: -item[1])
                    if turns and calls
                ),
            },
        )
    for label, values in (
        ("first token", results["first"]),
        ("whole turn", results["done"]),
        ("to the socket's first answer", results["ack"]),
        ("to the turn's start (status llm)", results["llm"]),
    ):
        for q in (50, 95):
            rows.append(
                {
                    "benchmark": name,
                    "metric": f"added latency {label} p{q}",
                    "value": round(_percentile(values, q), 1),
                    "unit": "ms",
                }
            )
    if results["first"]:
        rows.append(
            {
                "benchmark": name,
                "metric": "added latency first token mean",
                "value": round(statistics.fmean(results["first"]), 1),
                "unit": "ms",
            }
        )
    return rows


def run() -> list[dict]:
    rows: list[dict] = []
    stacks: dict[tuple[str, int], _Stack] = {}
    try:
        for phase, (model, processes, profile, n) in enumerate(_runs(), start=1):
            if processes and shutil.which("redis-server") is None:
                rows.append(
                    {
                        "benchmark": f"embed {model} x{processes} Redis {profile} N={n}",
                        "metric": "skipped",
                        "value": "-",
                        "unit": "",
                        "notes": "redis-server is missing (apt-get install -y redis-server)",
                    }
                )
                continue
            if (model, processes) not in stacks:
                for stack in stacks.values():
                    stack.close()
                stacks = {(model, processes): _Stack(model, max(processes, 1), redis=processes > 0)}
            results = asyncio.run(_run_n(stacks[(model, processes)], n, profile, phase))
            found = _rows(model, processes, profile, n, results)
            rows.extend(found)
            print("   " + "; ".join(f"{r['metric']} {r['value']}" for r in found[:7]), flush=True)
    finally:
        for stack in stacks.values():
            stack.close()
    return rows
