"""Engine overhead per turn on a 50-message conversation, through the real SDK and the loopback double.

- first-token overhead: from the double writing its first text delta to the first TextDelta out of
  `run_turn` (HTTP on 127.0.0.1, httpx, the SDK's SSE parsing, our stream handling);
- DB cost per turn: queries and their summed time (SQLite test database);
- turn wall time with an instant model (everything the engine adds around the model);
- CPU per turn: this process's CPU time (every thread) over a turn: what caps turns per second.

Runs on a throw-away test database; the conversation is reset to 50 messages before every turn.
"""

from __future__ import annotations

import logging
import statistics
import time

from asgiref.sync import async_to_sync, sync_to_async

TURNS = 40
WARMUP = 3
HISTORY = 50
REPLY = "I am fine, thank you. And you?"


def _serve_double(conn, text: str) -> None:
    """Child process: the OpenAI double, so its writes never compete with the engine for the GIL.
    perf_counter() is CLOCK_MONOTONIC on Linux, so its timestamps compare with the parent's."""
    from tests.doubles.openai_server import OpenAIDouble

    double = OpenAIDouble(default_text=text).start()
    conn.send(double.base_url)
    sent = 0
    while conn.recv() == "timestamps":
        stamps = list(double.first_token_at)
        conn.send(stamps[sent:])
        sent = len(stamps)
    double.stop()


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _seed(bot):
    from conversations.models import Message
    from conversations.services import conversation_merge_metadata, conversation_start, message_append

    conversation = conversation_start(bot=bot)
    conversation_merge_metadata(conversation=conversation, patch={"firstName": "Ana", "user": {"city": "Pune"}})
    for n in range(HISTORY // 2):
        message_append(
            conversation=conversation, role=Message.Role.USER, content=f"Question number {n}: " + "word " * 20
        )
        message_append(conversation=conversation, role=Message.Role.ASSISTANT, content=f"Answer {n}. " + "reply " * 30)
    return conversation


def _measure(conversation, conn) -> list[dict]:
    from django.db import connection

    from conversations.engine import run_turn
    from conversations.engine.events import TextDelta
    from conversations.models import Message

    overheads, walls, cpus, query_counts, query_ms = [], [], [], [], []
    keep = set(Message.objects.filter(conversation=conversation).values_list("pk", flat=True))
    assert len(keep) == HISTORY

    db_seconds = [0.0]
    db_queries = [0]

    def timed(execute, sql, params, many, context):
        db_queries[0] += 1
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            db_seconds[0] += time.perf_counter() - started

    async def one_turn() -> tuple[float, float, float]:
        first_delta_at = None
        started, cpu_started = time.perf_counter(), time.process_time()
        async for event in run_turn(conversation, "How are you today?"):
            if first_delta_at is None and isinstance(event, TextDelta):
                first_delta_at = time.perf_counter()
        return first_delta_at, time.perf_counter() - started, time.process_time() - cpu_started

    def reset() -> None:
        Message.objects.filter(conversation=conversation).exclude(pk__in=keep).delete()

    async def all_turns() -> None:
        # One event loop for every turn, as under daphne (the SDK client is cached per loop).
        for n in range(WARMUP + TURNS):
            db_seconds[0], db_queries[0] = 0.0, 0
            first_delta_at, wall, cpu = await one_turn()
            count, spent = db_queries[0], db_seconds[0]
            conn.send("timestamps")
            first_token_at = conn.recv()[-1]
            await sync_to_async(reset)()
            if n < WARMUP:
                continue
            overheads.append((first_delta_at - first_token_at) * 1000)
            walls.append(wall * 1000)
            cpus.append(cpu * 1000)
            query_counts.append(count)
            query_ms.append(spent * 1000)

    with connection.execute_wrapper(timed):
        async_to_sync(all_turns)()

    note = f"{TURNS} turns, {HISTORY}-message history, Responses API via openai SDK, double in its own process"
    return [
        {
            "benchmark": "engine",
            "metric": "first-token overhead median",
            "value": statistics.median(overheads),
            "unit": "ms",
            "notes": note,
        },
        {
            "benchmark": "engine",
            "metric": "first-token overhead p95",
            "value": _percentile(overheads, 0.95),
            "unit": "ms",
            "notes": "target < 5 ms median",
        },
        {
            "benchmark": "engine",
            "metric": "DB queries per turn",
            "value": statistics.median(query_counts),
            "unit": "queries",
            "notes": "SQLite; incl. transaction statements",
        },
        {
            "benchmark": "engine",
            "metric": "DB time per turn median",
            "value": statistics.median(query_ms),
            "unit": "ms",
            "notes": "",
        },
        {
            "benchmark": "engine",
            "metric": "turn wall time median",
            "value": statistics.median(walls),
            "unit": "ms",
            "notes": "instant model (ttft 0): engine + SDK + DB",
        },
        {
            "benchmark": "engine",
            "metric": "CPU per turn median",
            "value": statistics.median(cpus),
            "unit": "ms",
            "notes": "process CPU time, all threads (the double runs elsewhere)",
        },
    ]


def run() -> list[dict]:
    import multiprocessing

    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    from bots.services import bot_create

    logging.getLogger("httpx2").setLevel(logging.WARNING)  # the SDK's HTTP client logs every request
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    parent, child = multiprocessing.get_context("spawn").Pipe()
    server = multiprocessing.get_context("spawn").Process(
        target=_serve_double, args=(child, REPLY), name="openai-double", daemon=True
    )
    server.start()
    saved = (settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL)
    try:
        if not parent.poll(60):
            raise RuntimeError("the OpenAI double did not start")
        settings.OPENAI_API_KEY = "sk-bench-double"
        settings.OPENAI_BASE_URL = parent.recv()
        bot = bot_create(name="bench", system_prompt="You help {{.firstName}}.", openai_model="gpt-4o-mini")
        return _measure(_seed(bot), parent)
    finally:
        settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = saved
        parent.send("stop")
        server.join(timeout=10)
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()
