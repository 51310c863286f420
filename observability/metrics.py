"""The project's Prometheus metrics and the small functions that record them.

Every metric is defined here, once, so names and labels cannot drift between apps. Labels are small,
closed sets (a channel, an outcome, a tool's class, a model kind): never ids, names typed by users or
message text, so the number of series stays bounded.

Several server processes and Celery workers: with `PROMETHEUS_MULTIPROC_DIR` set (before the first
import of prometheus_client, e.g. in .env or the unit file), prometheus_client writes each process's
values to files in that directory and `/metrics` merges them (`registry()`); gauges use 'livesum'
(the sum over live processes). See docs/operations.md for how the scale-out deployment sets it.
"""

from __future__ import annotations

import atexit
import os

from prometheus_client import REGISTRY as DEFAULT_REGISTRY
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess

CHANNELS = frozenset({"studio", "widget", "rest", "cli", "phone"})
OUTCOMES = ("ok", "error", "interrupted", "queue_full", "busy")
# Seconds: from a fast tool call to a slow spoken turn.
LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0, 60.0)
LOAD_BUCKETS = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0)


def multiprocess_dir() -> str:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


if multiprocess_dir():
    os.makedirs(multiprocess_dir(), exist_ok=True)  # prometheus_client writes its files there

TURNS = Counter("voicebot_turns", "Turns served, by channel and outcome.", ["channel", "outcome"])
TURN_SECONDS = Histogram(
    "voicebot_turn_duration_seconds",
    "A turn's time from getting the conversation's lock to its final event.",
    ["channel", "outcome"],
    buckets=LATENCY_BUCKETS,
)
ASR_SECONDS = Histogram(
    "voicebot_asr_seconds", "Speech recognition time of one utterance.", ["channel"], buckets=LATENCY_BUCKETS
)
MODEL_TTFT_SECONDS = Histogram(
    "voicebot_model_ttft_seconds",
    "Model call start to its first token (text or tool call), per model call.",
    ["channel"],
    buckets=LATENCY_BUCKETS,
)
MODEL_CALLS = Counter("voicebot_model_calls", "Model calls, by outcome (ok, error, interrupted).", ["outcome"])
TTS_FIRST_AUDIO_SECONDS = Histogram(
    "voicebot_tts_first_audio_seconds",
    "First sentence handed to TTS to its audio being ready, per spoken turn.",
    ["channel"],
    buckets=LATENCY_BUCKETS,
)
VOICE_TO_VOICE_SECONDS = Histogram(
    "voicebot_voice_to_voice_seconds",
    "End of the user's speech to the first audio of the answer, per voice turn.",
    ["channel"],
    buckets=LATENCY_BUCKETS,
)
TOOL_CALL_SECONDS = Histogram(
    "voicebot_tool_call_seconds",
    "Time of one tool call, by the tool's class (bounded) and outcome (ok, error).",
    ["tool_type", "outcome"],
    buckets=LATENCY_BUCKETS,
)
OPEN_SOCKETS = Gauge(
    "voicebot_open_sockets", "Open websockets, by kind (talk, widget).", ["kind"], multiprocess_mode="livesum"
)
QUEUE_WAITING = Gauge(
    "voicebot_turn_queue_waiting",
    "Requests waiting in line for their conversation's turn (per process, summed over live processes).",
    ["channel"],
    multiprocess_mode="livesum",
)
QUEUE_REFUSALS = Counter(
    "voicebot_turn_queue_refusals",
    "Requests refused because their conversation's line was full (queue_full) or the wait too long (busy).",
    ["channel", "reason"],
)
CODEX_RUNS = Counter("voicebot_codex_runs", "Codex steps run, by outcome.", ["outcome"])
SANDBOX_KILLS = Counter(
    "voicebot_sandbox_kills", "Sandboxed scripts killed, by reason (wall_timeout or the signal).", ["reason"]
)
EGRESS_BLOCKS = Counter(
    "voicebot_egress_blocks", "Outbound HTTP requests of integration tools refused, by reason.", ["reason"]
)
MODEL_LOAD_SECONDS = Histogram(
    "voicebot_model_load_seconds",
    "Time to load a speech model or voice, by kind (asr, tts).",
    ["kind"],
    buckets=LOAD_BUCKETS,
)
MODEL_CACHE_SIZE = Gauge(
    "voicebot_model_cache_models",
    "Models held in the per-process model caches, by kind (summed over live processes).",
    ["kind"],
    multiprocess_mode="livesum",
)


def channel_label(channel: str | None) -> str:
    return channel if channel in CHANNELS else "other"


# --- recording functions (what the hooks call) ------------------------------------------------------
def turn_finished(channel: str, outcome: str, seconds: float | None) -> None:
    channel = channel_label(channel)
    TURNS.labels(channel, outcome).inc()
    if outcome in ("queue_full", "busy"):
        QUEUE_REFUSALS.labels(channel, outcome).inc()
    elif seconds is not None:
        TURN_SECONDS.labels(channel, outcome).observe(seconds)


def asr_observed(channel: str, seconds: float) -> None:
    ASR_SECONDS.labels(channel_label(channel)).observe(seconds)


def model_call_observed(channel: str, outcome: str, ttft_seconds: float | None) -> None:
    MODEL_CALLS.labels(outcome).inc()
    if ttft_seconds is not None:
        MODEL_TTFT_SECONDS.labels(channel_label(channel)).observe(ttft_seconds)


def voice_observed(channel: str, *, tts_first_audio_ms: int | None, voice_to_voice_ms: int | None) -> None:
    channel = channel_label(channel)
    if tts_first_audio_ms is not None:
        TTS_FIRST_AUDIO_SECONDS.labels(channel).observe(tts_first_audio_ms / 1000)
    if voice_to_voice_ms is not None:
        VOICE_TO_VOICE_SECONDS.labels(channel).observe(voice_to_voice_ms / 1000)


def tool_call_observed(tool_type: str, ok: bool, seconds: float) -> None:
    TOOL_CALL_SECONDS.labels(tool_type, "ok" if ok else "error").observe(seconds)


def socket_opened(kind: str) -> None:
    OPEN_SOCKETS.labels(kind).inc()


def socket_closed(kind: str) -> None:
    OPEN_SOCKETS.labels(kind).dec()


def queue_entered(channel: str) -> None:
    QUEUE_WAITING.labels(channel_label(channel)).inc()


def queue_left(channel: str) -> None:
    QUEUE_WAITING.labels(channel_label(channel)).dec()


def codex_run(outcome: str) -> None:
    CODEX_RUNS.labels(outcome).inc()


def sandbox_killed(reason: str) -> None:
    SANDBOX_KILLS.labels(reason or "unknown").inc()


def egress_blocked(reason: str) -> None:
    EGRESS_BLOCKS.labels(reason or "unknown").inc()


def model_loaded(kind: str, seconds: float) -> None:
    MODEL_LOAD_SECONDS.labels(kind).observe(seconds)


def model_cache_size(kind: str, size: int) -> None:
    MODEL_CACHE_SIZE.labels(kind).set(size)


# --- exposition ---------------------------------------------------------------------------------------
def registry() -> CollectorRegistry:
    """What `/metrics` shows: this process's registry, or, in multiprocess mode, every process's
    values merged from PROMETHEUS_MULTIPROC_DIR (read at each scrape)."""
    path = multiprocess_dir()
    if not path:
        return DEFAULT_REGISTRY
    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged, path=path)
    return merged


def register_process_exit() -> None:
    """In multiprocess mode, drop this process's live gauges when it exits (its counters stay)."""
    if multiprocess_dir():
        atexit.register(_mark_dead, os.getpid())


def _mark_dead(pid: int) -> None:
    if multiprocess_dir() and os.getpid() == pid:
        multiprocess.mark_process_dead(pid)
