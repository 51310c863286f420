"""The process running a model-written Codex script is killed from outside mid-run (an operator, the
OOM killer, a worker shutting down): the user still gets an answer, the tool result carries a clear
error, the saved API response the script was reading is kept, the run's temp directories are removed,
and the next turn works."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync

from conversations.engine.events import Done, ToolResult
from integrations.models import SavedResponse
from integrations.sandbox import sandbox_root
from integrations.saved import saved_response_bytes
from tests.integrations.conftest import make_tool, run_turn_events

pytestmark = pytest.mark.django_db(transaction=True)


def _slow_script(marker: str) -> str:
    return f"""
import time
# {marker}
open("started", "w").write("1")
time.sleep(60)
"""


def _kill_when_running(marker: str, killed: list[int], stop: threading.Event) -> None:
    """Find the sandboxed script whose source holds `marker` (through /proc/<pid>/cwd) and SIGKILL it."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not stop.is_set():
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                # The run's directory lives on its private tmpfs, in its own mount namespace: read it
                # through the process's cwd link (the host path only holds the launcher's inputs).
                cwd = proc / "cwd"
                if (
                    Path(os.readlink(cwd)).parent == sandbox_root()
                    and marker in (cwd / "script.py").read_text()
                    and (cwd / "started").exists()
                ):
                    os.kill(int(proc.name), signal.SIGKILL)
                    killed.append(int(proc.name))
                    return
            except OSError:
                continue
        time.sleep(0.05)


def test_a_codex_script_killed_mid_run_gives_a_clear_error_and_keeps_the_saved_data(
    bot,
    conversation,
    mock_api,
    allow_loopback,
    openai_double,
    settings,
):
    settings.VOICEBOT_SANDBOX_WALL_SECONDS = 30
    marker = f"fault-{uuid.uuid4().hex}"
    before = set(sandbox_root().iterdir())
    make_tool(bot, name="find_doctors", url=mock_api.url + "/v1/doctors?city={{args.city}}", use_codex_response=True)
    openai_double.queue_tool_call(
        "find_doctors", {"args": {"city": "Mexico City", "fields_required": "names", "why_api_was_called": "find"}}
    )
    script = _slow_script(marker)
    openai_double.queue_text(json.dumps({"STOP_REASON": "DONE", "next_step": "STOP", "script": script}))
    openai_double.queue_text("Sorry, I could not read the list just now.")

    killed: list[int] = []
    stop = threading.Event()
    killer = threading.Thread(target=_kill_when_running, args=(marker, killed, stop), daemon=True)
    killer.start()
    started = time.monotonic()
    try:
        events = async_to_sync(run_turn_events)(conversation, "doctors in Mexico City?")
    finally:
        stop.set()
        killer.join(timeout=5)

    assert killed, "the sandboxed script was never seen running"
    assert time.monotonic() - started < 25  # ended by the kill, not by the wall-clock limit
    result = next(e for e in events if isinstance(e, ToolResult)).result
    assert "SIGKILL" in result["codex_error"], result
    assert [e.text for e in events if isinstance(e, Done)] == ["Sorry, I could not read the list just now."]

    saved = SavedResponse.objects.get(pk=result["saved_response_id"])
    assert b"Mexico City" in saved_response_bytes(saved)  # what the API returned is not lost
    leftovers = [p for p in set(sandbox_root().iterdir()) - before if marker in _script_text(p)]
    assert leftovers == []

    openai_double.queue_text("Anything else?")
    again = async_to_sync(run_turn_events)(conversation, "thanks")
    assert [e.text for e in again if isinstance(e, Done)] == ["Anything else?"]


def _script_text(path: Path) -> str:
    try:
        return (path / "script.py").read_text()
    except OSError:
        return ""
