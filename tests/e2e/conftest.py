"""Shared browser-test fixtures: a live server, a second (host page) origin, and a chromium page.

- `daphne_server` (the name predates the move to uvicorn): `uvicorn config.asgi:application`, started
  as `make run` starts it (`server_command`), in a subprocess on a free 127.0.0.1 port, serving
  the pytest test database file (settings make it a file during tests) and reaching the loopback
  OpenAI double (`openai_double`) through OPENAI_BASE_URL. Uses `transactional_db`, so rows a test
  creates are committed and visible to the server.
- `host_origin`: a plain static HTTP server on another port: a different origin from `daphne_server`,
  like a customer's website. `host_origin.page(name, html)` writes a page and returns its URL.
- `browser` / `page`: Debian's chromium driven by Playwright (never a downloaded browser), one
  browser per test module.
- `artifacts_dir`: `test-artifacts/` (gitignored) for screenshots.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.conf import settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, *, timeout_s: float = 30.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout_s}s")


@dataclass
class LiveServer:
    url: str  # http://127.0.0.1:<port>
    process: subprocess.Popen
    log_path: Path

    @property
    def ws_url(self) -> str:
        return "ws" + self.url[len("http") :]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def server_env(*, openai_base_url: str = "", extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a server process that shares this test run's database, keys and OpenAI double."""
    database = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "VOICEBOT_ENV_FILE": "/nonexistent/.env",  # the developer's .env must not leak into tests
        "DATABASE_URL": f"sqlite:///{database['NAME']}",
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,  # client-key hashes are keyed by it
        "VOICEBOT_SECRET_KEY": settings.VOICEBOT_SECRET_KEY,  # signing secrets are encrypted with it
        "OPENAI_API_KEY": settings.OPENAI_API_KEY or "sk-test-double",
        "OPENAI_BASE_URL": openai_base_url or settings.OPENAI_BASE_URL,
        "VOICEBOT_OPENAI_MAX_RETRIES": "0",
        "DJANGO_DEBUG": "false",
        "PYTHONUNBUFFERED": "1",
        "VOICEBOT_LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set in this process for Playwright, never for the server
    env.update(extra or {})
    return env


def server_command(port: int, app: str = "config.asgi:application") -> list[str]:
    """The ASGI server as `make run` starts it (uvicorn; see docs/deployment.md), on 127.0.0.1:`port`."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-proxy-headers",
        "--ws-max-size",
        "1048576",
        "--no-access-log",
    ]


def stop_process(process: subprocess.Popen, *, grace_s: float = 10) -> None:
    """SIGTERM, then SIGKILL if it has not ended within `grace_s`."""
    process.terminate()
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@contextlib.contextmanager
def run_server(env: dict[str, str], log_path: Path, *, port: int | None = None, start_timeout_s: float = 30):
    """Start the server (on `port` or a free one); yield a LiveServer; stop it afterwards."""
    port = port or free_port()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            server_command(port),
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        server = LiveServer(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
        try:
            wait_for_http(f"{server.url}/healthz", process=process, timeout_s=start_timeout_s)
            yield server
        finally:
            stop_process(process)


run_daphne = run_server  # the old name, still imported by tests/e2e/test_studio.py


@pytest.fixture
def daphne_server(transactional_db, openai_double, tmp_path):
    """A server process serving this test's database, with the OpenAI double behind it."""
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
        pytest.skip("the live server fixture shares the SQLite test database file")
    with run_server(server_env(openai_base_url=openai_double.base_url), tmp_path / "server.log") as server:
        yield server


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep test output clean
        pass


@dataclass
class HostOrigin:
    url: str
    root: Path

    def page(self, name: str, html: str) -> str:
        (self.root / name).write_text(html, encoding="utf-8")
        return f"{self.url}/{name}"


@pytest.fixture
def host_origin(tmp_path):
    """A static site on its own port: another origin than the live server (a customer's website)."""
    root = tmp_path / "host-site"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="host-origin", daemon=True)
    thread.start()
    try:
        yield HostOrigin(url=f"http://127.0.0.1:{server.server_address[1]}", root=root)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextlib.contextmanager
def launch_chromium(extra_args: tuple[str, ...] = ()):
    """Debian's chromium under Playwright's sync API (never a downloaded browser).

    Playwright's sync API keeps an event loop running in this thread, which Django's async-safety
    check mistakes for async code calling the ORM; the tests' bodies really are synchronous.
    """
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args], headless=True
            )
            try:
                yield chromium
            finally:
                chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="module")
def browser():
    """Module-scoped: Playwright's loop must not outlive the browser tests (other tests use asyncio)."""
    with launch_chromium() as chromium:
        yield chromium


@pytest.fixture
def browser_context(browser):
    context = browser.new_context(viewport={"width": 1000, "height": 760})
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(browser_context):
    page = browser_context.new_page()
    page.set_default_timeout(15_000)
    page.console_messages = []
    page.on("console", lambda message: page.console_messages.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: page.console_messages.append(f"pageerror: {error}"))
    return page


@pytest.fixture
def artifacts_dir() -> Path:
    path = ROOT / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


SPOKEN_QUESTION = "What time does the store open?"


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory) -> Path:
    """SPOKEN_QUESTION by espeak-ng, 48 kHz mono PCM16 with silence after it (the fake mic loops it)."""
    folder = tmp_path_factory.mktemp("mic")
    raw, wav = folder / "raw.wav", folder / "question-48k.wav"
    subprocess.run(["espeak-ng", "-s", "140", "-w", str(raw), SPOKEN_QUESTION], check=True, capture_output=True)
    subprocess.run(
        ["sox", str(raw), "-r", "48000", "-c", "1", "-b", "16", str(wav), "pad", "0.3", "4"],
        check=True,
        capture_output=True,
    )
    return wav


@pytest.fixture(scope="module")
def mic_browser(speech_wav):
    """Chromium with a fake microphone fed by `speech_wav` and autoplay allowed."""
    fake_microphone = (
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-audio-capture={speech_wav}",
        "--autoplay-policy=no-user-gesture-required",
    )
    with launch_chromium(fake_microphone) as browser:
        yield browser
