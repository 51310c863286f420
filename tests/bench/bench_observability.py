"""CPU cost per turn of the observability hooks: metrics, the per-turn log line and tracing.

Turns run through the conversation session (as every transport runs them) against the instant OpenAI
double in its own process; what is measured is this process's CPU time (every thread, so the span
exporter's thread counts) per turn, median over TURNS turns, configurations interleaved turn by turn so
drift on a shared machine hits them all alike:

- `bare`: the hooks are in place but record nothing (metric functions replaced by no-ops, the turn log
  line off, tracing off): the engine's own cost, the baseline;
- `metrics+log`: Prometheus metrics and the JSON turn line (formatted into memory);
- `metrics+log+tracing`: the same plus OpenTelemetry spans (BatchSpanProcessor into the SDK's
  in-memory exporter, i.e. everything but the network).

Each set runs twice: in a process with prometheus_client's default (in-memory) values and in one with
PROMETHEUS_MULTIPROC_DIR set (values in mmap'ed files, as in the scale-out deployment).
"""

from __future__ import annotations

import logging
import os
import statistics
import tempfile
import time

TURNS = 100
WARMUP = 5
HISTORY = 10
HOOK_TURNS = 2000
MODES = ("bare", "metrics+log", "metrics+log+tracing")


def _serve_double(conn) -> None:
    from tests.doubles.openai_server import OpenAIDouble

    double = OpenAIDouble(default_text="I am fine, thank you. And you?").start()
    conn.send(double.base_url)
    conn.recv()
    double.stop()


def _child(conn, env: dict[str, str]) -> None:
    """A fresh process (prometheus_client picks its value class at import, from the environment)."""
    os.environ.update(env)
    import django

    django.setup()
    conn.send(_measure())


def _measure() -> dict[str, float]:
    import contextlib
    import io

    from asgiref.sync import async_to_sync, sync_to_async
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from bots.services import bot_create
    from conversations.engine import run_turn
    from conversations.models import Message
    from conversations.services import conversation_start, message_append
    from conversations.session import ConversationSession
    from observability import logs, metrics, tracing

    logging.getLogger("httpx2").setLevel(logging.WARNING)
    bot = bot_create(name="bench", system_prompt="You help.", openai_model="gpt-4o-mini")
    conversation = conversation_start(bot=bot)
    for n in range(HISTORY // 2):
        message_append(conversation=conversation, role=Message.Role.USER, content=f"Question {n}")
        message_append(conversation=conversation, role=Message.Role.ASSISTANT, content=f"Answer {n}")
    keep = set(Message.objects.filter(conversation=conversation).values_list("pk", flat=True))

    recorders = {name: getattr(metrics, name) for name in dir(metrics) if name.endswith(("_observed", "_finished"))}
    recorders.update({name: getattr(metrics, name) for name in ("queue_entered", "queue_left")})
    turn_logger = logging.getLogger(logs.TURN_LOGGER)
    sink = logging.StreamHandler(io.StringIO())
    sink.setFormatter(logs.JsonFormatter())
    sink.addFilter(logs.ConversationFilter())
    exporter = InMemorySpanExporter()
    tracing.configure(exporter, batch=True)  # one provider and export thread for the whole run
    tracer, provider = tracing._tracer, tracing._provider

    def set_mode(mode: str) -> None:
        for name, function in recorders.items():
            setattr(metrics, name, function if mode != "bare" else (lambda *a, **k: None))
        turn_logger.handlers = [sink] if mode != "bare" else []
        turn_logger.propagate = False
        turn_logger.setLevel(logging.INFO if mode != "bare" else logging.WARNING)
        tracing._tracer = tracer if mode == "metrics+log+tracing" else None
        exporter.clear()

    def factory(options):
        return run_turn(conversation, "How are you today?", options=options)

    async def one_turn(mode: str) -> float:
        session = ConversationSession(channel="rest")
        cpu_started = time.process_time()
        async with contextlib.aclosing(session.events(conversation.pk, factory)) as events:
            async for _ in events:
                pass
        if mode == "metrics+log+tracing":
            provider.force_flush()  # exporting the turn's spans is part of its cost
            assert len(exporter.get_finished_spans()) >= 2, "no spans were made"
        return time.process_time() - cpu_started

    cpus: dict[str, list[float]] = {mode: [] for mode in MODES}

    async def all_turns() -> None:
        for n in range(WARMUP + TURNS):
            for mode in MODES:
                set_mode(mode)
                cpu = await one_turn(mode)
                await sync_to_async(Message.objects.filter(conversation=conversation).exclude(pk__in=keep).delete)()
                if n >= WARMUP:
                    cpus[mode].append(cpu * 1000)

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import values

        assert "Mmaped" in values.ValueClass.__name__ or "MultiProcess" in values.ValueClass.__name__
    async_to_sync(all_turns)()
    results = {mode: statistics.median(values) for mode, values in cpus.items()}
    for mode in MODES:  # the hooks alone, without the engine's noise around them
        set_mode(mode)
        results[f"hooks:{mode}"] = _hooks_only(provider if mode == "metrics+log+tracing" else None)
    set_mode("metrics+log")
    tracing.disable()
    return results


def _hooks_only(provider) -> float:
    """CPU ms of the hook calls one text turn with one tool call makes, averaged over HOOK_TURNS."""
    from conversations.engine.events import Done
    from conversations.system_tools import set_metadata_tool
    from observability import observe

    done = Done(text="", metrics={"model": "gpt-4o-mini", "llm_ttfb_ms": 5, "llm_total_ms": 9, "input_tokens_est": 9})
    started = time.process_time()
    for n in range(HOOK_TURNS):
        turn = observe.turn_begin("rest", f"conversation-{n}")
        turn.running()
        observe.note_bot("bot-1")
        for _ in range(2):
            with observe.model_call("gpt-4o-mini") as call:
                for _ in range(8):  # a few text chunks
                    call.first_token()
        with observe.tool_call(set_metadata_tool) as observed:
            observed.ok = True
        turn.finish(done)
        turn.close()
        if provider is not None:
            provider.force_flush()
    return (time.process_time() - started) * 1000 / HOOK_TURNS


def run() -> list[dict]:
    import multiprocessing

    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    spawn = multiprocessing.get_context("spawn")
    parent, child = spawn.Pipe()
    server = spawn.Process(target=_serve_double, args=(child,), name="openai-double", daemon=True)
    server.start()
    rows: list[dict] = []
    try:
        if not parent.poll(60):
            raise RuntimeError("the OpenAI double did not start")
        base_url = parent.recv()
        env = {
            "DATABASE_URL": f"sqlite:///{settings.DATABASES['default']['NAME']}",
            "OPENAI_API_KEY": "sk-bench-double",
            "OPENAI_BASE_URL": base_url,
            "VOICEBOT_OPENAI_MAX_RETRIES": "0",
            "VOICEBOT_LOG_LEVEL": "WARNING",
        }
        with tempfile.TemporaryDirectory(prefix="voicebot-bench-prom-") as prom_dir:
            for label, extra in (("single-process", {}), ("multiprocess", {"PROMETHEUS_MULTIPROC_DIR": prom_dir})):
                results = _in_child(spawn, {**env, **extra})
                for prefix, what in (("", "CPU per turn"), ("hooks:", "hooks' CPU per turn")):
                    base = results[f"{prefix}bare"]
                    for mode in MODES:
                        value = results[f"{prefix}{mode}"]
                        rows.append(
                            {
                                "benchmark": "observability",
                                "metric": f"{what}, {mode} ({label})",
                                "value": value,
                                "unit": "ms",
                                "notes": "baseline" if mode == "bare" else f"{value - base:+.3f} ms over bare",
                            }
                        )
    finally:
        parent.send("stop")
        server.join(timeout=10)
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()
    return rows


def _in_child(spawn, env: dict[str, str]) -> dict[str, float]:
    parent, child = spawn.Pipe()
    process = spawn.Process(target=_child, args=(child, env), name="bench-observability")
    process.start()
    try:
        if not parent.poll(900):
            raise RuntimeError("the measuring process did not answer")
        return parent.recv()
    finally:
        process.join(timeout=30)
