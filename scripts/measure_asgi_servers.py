"""Compare ASGI servers for this project: memory under oversized anonymous uploads, websocket speed.

    .venv/bin/python scripts/measure_asgi_servers.py [daphne uvicorn hypercorn] [--bare]

For each server: a fresh SQLite database, the project's app (with `--bare`: Django's plain ASGI app,
i.e. without config.body_limits, as before the fix) plus a websocket echo route
(scripts/asgi_echo_app.py), then
- a 400 MiB anonymous multipart POST to /api/bots/<uuid>/talk/stream, streamed in 1 MiB chunks with
  Content-Length, and the same without a length (chunked); 100 MiB to /healthz;
- peak server RSS (VmRSS from /proc, sampled every 20 ms) above the idle RSS, status, seconds;
- websocket echo: round trips per second for one client (200-byte text messages), and messages per
  second with 8 clients sending concurrently.
Prints one markdown table (quoted in docs/deployment.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.security.http_stream import MIB, PeakRss, post_streamed, rss_kib  # noqa: E402


def free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_command(server: str, port: int, app: str) -> list[str]:
    if server == "daphne":
        return [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), app]
    if server == "uvicorn":
        return [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    if server == "hypercorn":
        return [sys.executable, "-m", "hypercorn", app, "--bind", f"127.0.0.1:{port}"]
    raise ValueError(server)


async def echo_rates(port: int, *, messages: int = 3000, clients: int = 8) -> tuple[float, float]:
    import websockets

    url = f"ws://127.0.0.1:{port}/echo"
    payload = "x" * 200
    async with websockets.connect(url, max_size=None) as socket_:
        for _ in range(50):  # warm up
            await socket_.send(payload)
            await socket_.recv()
        started = time.perf_counter()
        for _ in range(messages):
            await socket_.send(payload)
            await socket_.recv()
        round_trips = messages / (time.perf_counter() - started)

    async def one(count: int) -> None:
        async with websockets.connect(url, max_size=None) as socket_:

            async def reader():
                for _ in range(count):
                    await socket_.recv()

            task = asyncio.create_task(reader())
            for _ in range(count):
                await socket_.send(payload)
            await task

    each = messages // clients
    started = time.perf_counter()
    await asyncio.gather(*(one(each) for _ in range(clients)))
    concurrent = each * clients / (time.perf_counter() - started)
    return round_trips, concurrent


def measure(server: str, *, bare: bool, workdir: Path) -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "VOICEBOT_ENV_FILE": "/nonexistent/.env",
        "DATABASE_URL": f"sqlite:///{workdir}/measure.sqlite3",
        "VOICEBOT_DATA_DIR": str(workdir / "data"),
        "VOICEBOT_LOG_LEVEL": "ERROR",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("REDIS_URL", None)
    if bare:
        env["MEASURE_BARE"] = "1"
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    port = free_port()
    app = "scripts.asgi_echo_app:application"
    log = (workdir / f"{server}.log").open("w")
    process = subprocess.Popen(server_command(server, port, app), cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        from tests.e2e.conftest import wait_for_http

        wait_for_http(f"http://127.0.0.1:{port}/healthz", process=process)
        row: dict = {"server": server + (" (bare Django app)" if bare else "")}
        idle = rss_kib(process.pid)
        row["idle_mib"] = idle / 1024
        talk = f"/api/bots/{uuid.uuid4()}/talk/stream"
        for label, path, size, chunked in (
            ("talk 400 MiB", talk, 400 * MIB, False),
            ("talk 400 MiB chunked", talk, 400 * MIB, True),
            ("healthz 100 MiB", "/healthz", 100 * MIB, False),
        ):
            before = rss_kib(process.pid)
            with PeakRss(process.pid) as peak:
                status, seconds = post_streamed(port, path, size, chunked=chunked)
            after = rss_kib(process.pid)
            row[label] = (status, (peak.peak - before) / 1024, (after - before) / 1024, seconds)
            if process.poll() is not None:
                row[label] = (f"server died ({process.returncode})", 0, 0, seconds)
                break
        if process.poll() is None:
            row["ws"] = asyncio.run(echo_rates(port))
        return row
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def main(argv: list[str]) -> int:
    bare = "--bare" in argv
    servers = [a for a in argv if not a.startswith("--")] or ["daphne", "uvicorn", "hypercorn"]
    print("| server | idle RSS MiB | attack | status | peak RSS growth MiB | RSS growth after MiB | seconds |")
    print("|---|---|---|---|---|---|---|")
    rows = []
    for server in servers:
        with tempfile.TemporaryDirectory(prefix=f"measure-{server}-") as tmp:
            row = measure(server, bare=bare, workdir=Path(tmp))
        rows.append(row)
        for label in ("talk 400 MiB", "talk 400 MiB chunked", "healthz 100 MiB"):
            if label in row:
                status, peak, after, seconds = row[label]
                print(
                    f"| {row['server']} | {row['idle_mib']:.0f} | {label} | {status} | {peak:.1f} | {after:.1f} "
                    f"| {seconds:.1f} |",
                    flush=True,
                )
    print()
    print("| server | websocket echo, 1 client (round trips/s) | 8 clients (messages/s) |")
    print("|---|---|---|")
    for row in rows:
        if "ws" in row:
            print(f"| {row['server']} | {row['ws'][0]:.0f} | {row['ws'][1]:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
