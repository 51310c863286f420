"""Codex runs are bounded in what they hold and what they return (security findings 6 and 7):

- a run waits in a dedicated thread (eager mode), never in the event loop's default executor, so slow
  scripts cannot starve other visitors' HTTP tools;
- one bot has at most VOICEBOT_CODEX_MAX_RUNS_PER_BOT runs at once, and a full runner pool is a
  clear "busy" tool error;
- an oversized result is cut, with a note, before it reaches the model or the message table.

Slow scripts wait for a `stop` file that the test writes into their private work dir through
/proc/<pid>/cwd, so "still running" is a fact the test controls, not a timing guess.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from conversations.engine.events import Done, ToolResult
from conversations.models import Message
from conversations.services import conversation_start
from tests.integrations.conftest import make_tool, run_turn_events

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox's namespaces need the server's root"),
]

CODEX_ARGS = {"args": {"city": "Pune", "fields_required": "names", "why_api_was_called": "find"}}


def codex_reply(script: str) -> str:
    return json.dumps({"STOP_REASON": "DONE", "CONTINUE_REASON": "", "next_step": "STOP", "script": script})


def slow_script(marker: str) -> str:
    return f"""
import os, sys, time
# {marker}
while not os.path.exists("stop"):
    time.sleep(0.02)
open(sys.argv[2], "w").write("slow run done")
"""


def _running(marker: str) -> list[int]:
    """Pids of this test's sandboxed scripts that are running now (host view through /proc)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if marker in (proc / "cwd" / "script.py").read_text():
                    pids.append(int(proc.name))
            except OSError:
                continue
    return pids


async def _until_running(marker: str, count: int) -> int:
    """Wait (on the event loop itself: no executor thread) until `count` scripts run; return how many do."""
    deadline = time.monotonic() + 20
    while len(_running(marker)) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return len(_running(marker))


def _release(marker: str) -> None:
    for pid in _running(marker):
        try:
            (Path(f"/proc/{pid}/cwd") / "stop").write_text("1")
        except OSError:
            pass


async def _start_slow_turns(bot, openai_double, marker: str, count: int) -> tuple[list[asyncio.Task], int]:
    """Start `count` turns in their own conversations, one after the other, each until its script runs
    (the OpenAI double answers in order, so each turn takes its tool call and script before the next)."""
    tasks = []
    for index in range(count):
        conversation = await sync_to_async(conversation_start)(bot=bot)
        openai_double.queue_tool_call("find_doctors", CODEX_ARGS)
        openai_double.queue_text(codex_reply(slow_script(marker)))
        tasks.append(asyncio.create_task(run_turn_events(conversation, "doctors in Pune?")))
        if await _until_running(marker, index + 1) < index + 1:
            return tasks, index
    return tasks, count


async def _finish(tasks: list[asyncio.Task], marker: str) -> list:
    _release(marker)
    done = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=60)
    return list(done)


@pytest.fixture
def codex_bot(bot, mock_api, allow_loopback, settings):
    settings.VOICEBOT_SANDBOX_WALL_SECONDS = 30
    make_tool(bot, name="find_doctors", url=mock_api.url + "/v1/doctors?city={{args.city}}", use_codex_response=True)
    make_tool(bot, name="list_doctors", url=mock_api.url + "/v1/doctors")
    return bot


def test_an_http_tool_turn_completes_while_eight_codex_scripts_are_still_running(codex_bot, openai_double, settings):
    settings.VOICEBOT_CODEX_MAX_RUNS_PER_BOT = 8
    settings.VOICEBOT_SANDBOX_RUNNERS = 8
    marker = f"slow-{uuid.uuid4().hex}"
    other = conversation_start(bot=codex_bot)

    async def scenario():
        slow, started = await _start_slow_turns(codex_bot, openai_double, marker, 8)
        try:
            assert started == 8, f"only {started} of 8 Codex scripts could start (the runs starve a shared pool)"
            openai_double.queue_tool_call("list_doctors", {"args": {}, "next_reply": "Here is the list."})
            http_turn = asyncio.create_task(run_turn_events(other, "list the doctors"))
            finished, _ = await asyncio.wait([http_turn, *slow], return_when=asyncio.FIRST_COMPLETED, timeout=60)
            assert finished == {http_turn}, "the HTTP tool turn did not finish first"
            assert len(_running(marker)) == 8  # all eight scripts still run, the turn did not wait for them
            events = http_turn.result()
            for _ in slow:
                openai_double.queue_text("Found Dr. Rahul Jain.")
        finally:
            slow_events = await _finish(slow, marker)
        return events, slow_events

    events, slow_events = async_to_sync(scenario)()
    result = next(e for e in events if isinstance(e, ToolResult))
    assert result.ok and result.result["ok"] is True
    assert [e.text for e in events if isinstance(e, Done)] == ["Here is the list."]
    for turn in slow_events:
        assert not isinstance(turn, BaseException), turn
        codex = next(e for e in turn if isinstance(e, ToolResult)).result
        assert codex["codex_ok"] is True and codex["codex_result_text"] == "slow run done"


def test_a_bot_runs_at_most_its_limit_of_codex_scripts_at_once(codex_bot, openai_double, settings):
    settings.VOICEBOT_CODEX_MAX_RUNS_PER_BOT = 2
    marker = f"capped-{uuid.uuid4().hex}"
    third = conversation_start(bot=codex_bot)

    async def scenario():
        slow, started = await _start_slow_turns(codex_bot, openai_double, marker, 2)
        try:
            assert started == 2
            openai_double.queue_tool_call("find_doctors", CODEX_ARGS)
            openai_double.queue_text("Too many lookups right now, one moment.")
            events = await run_turn_events(third, "doctors in Pune?")
            for _ in slow:
                openai_double.queue_text("Found them.")
        finally:
            await _finish(slow, marker)
        return events

    events = async_to_sync(scenario)()
    result = next(e for e in events if isinstance(e, ToolResult)).result
    assert result["codex_ok"] is False
    assert result["codex_error"] == "This bot already has 2 Codex scripts running (its limit); try again in a moment."
    assert [e.text for e in events if isinstance(e, Done)] == ["Too many lookups right now, one moment."]

    # The slots were given back when those runs ended: the next run works.
    openai_double.queue_tool_call("find_doctors", CODEX_ARGS)
    openai_double.queue_text(codex_reply("import sys\nopen(sys.argv[2], 'w').write('Dr. Rahul Jain')"))
    openai_double.queue_text("Dr. Rahul Jain.")
    again = async_to_sync(run_turn_events)(third, "and now?")
    assert next(e for e in again if isinstance(e, ToolResult)).result["codex_result_text"] == "Dr. Rahul Jain"


def test_a_full_runner_pool_is_a_clear_busy_error(codex_bot, openai_double, settings):
    settings.VOICEBOT_SANDBOX_RUNNERS = 1
    marker = f"busy-{uuid.uuid4().hex}"
    other = conversation_start(bot=codex_bot)

    async def scenario():
        slow, started = await _start_slow_turns(codex_bot, openai_double, marker, 1)
        try:
            assert started == 1
            openai_double.queue_tool_call("find_doctors", CODEX_ARGS)
            openai_double.queue_text(codex_reply("print('never runs')"))
            openai_double.queue_text("Busy, one moment.")
            events = await run_turn_events(other, "doctors?")
            openai_double.queue_text("Found them.")
        finally:
            await _finish(slow, marker)
        return events

    events = async_to_sync(scenario)()
    result = next(e for e in events if isinstance(e, ToolResult)).result
    assert result["codex_ok"] is False
    assert result["codex_error"].startswith("The script runner is busy (1 scripts running)")


def test_an_oversized_codex_result_is_cut_before_it_reaches_the_model_or_the_database(
    codex_bot, conversation, openai_double, settings
):
    settings.VOICEBOT_CODEX_RESULT_KB = 16
    script = "import sys\nopen(sys.argv[2], 'w').write('Dr. Rahul Jain; ' * (19 * 1024 * 1024 // 16))"
    openai_double.queue_tool_call("find_doctors", CODEX_ARGS)
    openai_double.queue_text(codex_reply(script))
    openai_double.queue_text("Dr. Rahul Jain is in Pune.")

    events = async_to_sync(run_turn_events)(conversation, "doctors in Pune?")

    result = next(e for e in events if isinstance(e, ToolResult)).result
    text = result["codex_result_text"]
    assert text.startswith("Dr. Rahul Jain; Dr. Rahul Jain;")
    assert text.endswith("[output truncated at 16 KiB]")
    assert len(text) <= 16 * 1024 + 64
    assert result["codex_ok"] is True  # cut, not failed: the model still gets the start of the answer
    model_input = json.dumps(openai_double.requests[-1])
    assert "[output truncated at 16 KiB]" in model_input and len(model_input) < 64 * 1024
    rows = list(Message.objects.filter(conversation=conversation).values())
    assert rows and all(len(json.dumps(row, default=str)) < 64 * 1024 for row in rows)
    assert [e.text for e in events if isinstance(e, Done)] == ["Dr. Rahul Jain is in Pune."]


def test_with_a_celery_worker_the_run_is_polled_and_answers(codex_bot, conversation, openai_double, settings):
    """Not eager: the task goes through the broker to a real Celery worker (in a thread of this test
    process, sharing its in-memory broker and result backend); the turn awaits it with asyncio.sleep."""
    from celery.contrib.testing.worker import start_worker

    from config.celery import app as celery_app

    openai_double.queue_tool_call("find_doctors", CODEX_ARGS)
    openai_double.queue_text(codex_reply("import sys\nopen(sys.argv[2], 'w').write('Dr. Rahul Jain, Pune')"))
    openai_double.queue_text("Dr. Rahul Jain.")
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            events = async_to_sync(run_turn_events)(conversation, "doctors in Pune?")
    finally:
        celery_app.conf.task_always_eager = eager
    result = next(e for e in events if isinstance(e, ToolResult)).result
    assert result["codex_ok"] is True, result
    assert result["codex_result_text"] == "Dr. Rahul Jain, Pune"
