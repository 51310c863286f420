"""The hooks the other apps call: each records a metric, a span and (for the turn) the log line at once.

The conversation session opens a `TurnObserver` per request (`turn_begin`) and runs the request's
events through `TurnObserver.wrap`; the turn lives in a context variable, so the engine, the voice pipeline, tools and the egress module find the running turn (its
channel, its span, its conversation id) without it being passed through every call. Tasks started
during the turn copy the context and so see the same turn. Code that runs outside a session (a
benchmark calling `run_turn`, the greeting of a test) still records metrics, under channel "other".

Each hook is a context manager or a plain call, so the calling code stays one or two lines.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextvars import ContextVar
from typing import Any

from observability import logs, metrics, tracing

_TIMING_KEYS = ("asr", "llm_ttfb", "llm_total", "tts_first_audio", "tts_from_llm_start", "voice_to_voice", "total")
_current: ContextVar[TurnObserver | None] = ContextVar("voicebot_turn", default=None)


def current_turn() -> TurnObserver | None:
    return _current.get()


def _channel() -> str:
    turn = _current.get()
    return turn.channel if turn is not None else "other"


def _parent_span() -> Any:
    turn = _current.get()
    return turn.span if turn is not None else None


class TurnObserver:
    """One request of a conversation session: waiting in line, running, finished."""

    __slots__ = (
        "bot_id",
        "channel",
        "conversation_id",
        "error_code",
        "finished",
        "queued_at",
        "span",
        "started_at",
        "tool_span",
    )

    def __init__(self, channel: str, conversation_id: str) -> None:
        self.channel = metrics.channel_label(channel)
        self.conversation_id = conversation_id
        self.bot_id = ""
        self.queued_at = time.perf_counter()
        self.started_at: float | None = None
        self.error_code = ""
        self.finished = False
        self.tool_span: Any = None
        self.span = tracing.start_span(
            "voicebot.turn", attributes={"voicebot.conversation_id": conversation_id, "voicebot.channel": self.channel}
        )
        metrics.queue_entered(self.channel)

    async def wrap(self, events: AsyncIterator[Any]) -> AsyncIterator[Any]:
        """Pass `events` through, making this the current turn before each step: a caller may run each
        `__anext__` in a task of its own (the NDJSON streamer does), whose context is a fresh copy."""
        try:
            while True:
                _current.set(self)
                try:
                    event = await events.__anext__()
                except StopAsyncIteration:
                    return
                yield event
        finally:
            _current.set(self)
            await events.aclose()  # type: ignore[attr-defined]

    def running(self) -> None:
        """The turn got its conversation's lock: it leaves the line and its clock starts."""
        if self.started_at is None:
            self.started_at = time.perf_counter()
            metrics.queue_left(self.channel)

    def finish(self, event: Any) -> Any:
        """Note a Done or Error event (returned unchanged, so `yield turn.finish(Error(...))` reads)."""
        code = getattr(event, "code", None)
        if code is not None:  # an Error: the turn may still go on (a TTS failure keeps the text reply)
            self.error_code = self.error_code or str(code)
        elif not self.finished:
            self._end("interrupted" if getattr(event, "interrupted", False) else "ok", getattr(event, "metrics", {}))
        return event

    def close(self) -> None:
        """The request is over (normally, cancelled or refused): record whatever `finish` has not."""
        if self.started_at is None:
            metrics.queue_left(self.channel)
            self.started_at = None
        if not self.finished:
            code = self.error_code
            outcome = "interrupted" if not code else code if code in ("queue_full", "busy") else "error"
            self._end(outcome, {})
        if _current.get() is self:
            _current.set(None)

    def _end(self, outcome: str, done_metrics: dict[str, Any]) -> None:
        self.finished = True
        now = time.perf_counter()
        seconds = None if self.started_at is None else now - self.started_at
        metrics.turn_finished(self.channel, outcome, seconds)
        timings = _timings(done_metrics)
        fields: dict[str, Any] = {
            "conversation_id": self.conversation_id,
            "bot_id": self.bot_id,
            "channel": self.channel,
            "outcome": outcome,
            "duration_ms": None if seconds is None else round(seconds * 1000),
            "wait_ms": round(((self.started_at or now) - self.queued_at) * 1000),
            "timings_ms": timings,
        }
        if self.error_code and outcome != "ok":
            fields["error_code"] = self.error_code
        for key in ("model", "input_tokens_est", "output_tokens_est", "cost_usd_est"):
            if done_metrics.get(key) is not None:
                fields[key] = done_metrics[key]
        logs.log_turn(fields)
        if self.span is not None:
            attributes = {"voicebot.outcome": outcome, "voicebot.bot_id": self.bot_id or None}
            attributes.update({f"voicebot.{key}_ms": value for key, value in timings.items()})
            tracing.end_span(self.span, error=self.error_code if outcome != "ok" else None, attributes=attributes)


def _timings(done_metrics: dict[str, Any]) -> dict[str, int]:
    timings: dict[str, int] = {}
    for key in _TIMING_KEYS:
        value = done_metrics.get(key, done_metrics.get(f"{key}_ms"))
        if isinstance(value, int | float) and not isinstance(value, bool):
            timings[key] = int(value)
    return timings


# --- the session ------------------------------------------------------------------------------------
def turn_begin(channel: str, conversation_id: Any) -> TurnObserver:
    """A request entered the conversation's line; the returned observer is the running turn's context."""
    turn = TurnObserver(channel, str(conversation_id))
    _current.set(turn)
    return turn


def note_bot(bot_id: Any) -> None:
    """The engine knows the bot: the turn's log line and span carry its id."""
    turn = _current.get()
    if turn is not None and not turn.bot_id:
        turn.bot_id = str(bot_id)


# --- model calls (the engine) ---------------------------------------------------------------------------
class ModelCall:
    """`with observe.model_call(model) as call:` around one streamed model call; `call.first_token()`
    on each chunk (only the first counts)."""

    __slots__ = ("model", "span", "started", "ttft")

    def __init__(self, model: str) -> None:
        self.model = model
        self.ttft: float | None = None

    def __enter__(self) -> ModelCall:
        self.started = time.perf_counter()
        self.span = tracing.start_span("voicebot.model_call", _parent_span(), {"gen_ai.request.model": self.model})
        return self

    def first_token(self) -> None:
        if self.ttft is None:
            self.ttft = time.perf_counter() - self.started

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        outcome = "ok" if exc_type is None else "interrupted" if _is_cancel(exc_type) else "error"
        metrics.model_call_observed(_channel(), outcome, self.ttft)
        if self.span is not None:
            tracing.end_span(
                self.span,
                error=None if outcome == "ok" else getattr(exc, "code", None) or outcome,
                attributes={
                    "voicebot.ttft_ms": None if self.ttft is None else round(self.ttft * 1000),
                    "voicebot.outcome": outcome,
                },
            )


def model_call(model: str) -> ModelCall:
    return ModelCall(model)


# --- tool calls (the engine) and their HTTP requests (integrations.egress) ------------------------------
class ToolCall:
    """`with observe.tool_call(tool) as call:` around a tool's run; set `call.ok` from its outcome."""

    __slots__ = ("name", "ok", "span", "started", "tool_type")

    def __init__(self, tool: Any) -> None:
        self.tool_type = type(tool).__name__
        self.name = str(getattr(tool, "name", ""))
        self.ok = True

    def __enter__(self) -> ToolCall:
        self.started = time.perf_counter()
        self.span = tracing.start_span(
            "voicebot.tool_call",
            _parent_span(),
            {"voicebot.tool.name": self.name, "voicebot.tool.type": self.tool_type},
        )
        turn = _current.get()
        if turn is not None:
            turn.tool_span = self.span
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        ok = self.ok and exc_type is None
        metrics.tool_call_observed(self.tool_type, ok, time.perf_counter() - self.started)
        turn = _current.get()
        if turn is not None and turn.tool_span is self.span:
            turn.tool_span = None
        if self.span is not None:
            error = None if ok else ("interrupted" if exc_type is not None and _is_cancel(exc_type) else "tool_error")
            tracing.end_span(self.span, error=error, attributes={"voicebot.tool.ok": ok})


def tool_call(tool: Any) -> ToolCall:
    return ToolCall(tool)


def http_request(host: str, port: int | None, status: int | None, started_ns: int, *, error: str = "") -> None:
    """One outbound HTTP request of a tool finished (with a status, or an error code): a span under the
    tool call with the target host and status (no path, query or headers). `started_ns`: time.time_ns()."""
    if not tracing.enabled():
        return
    turn = _current.get()
    attributes = {"server.address": host, "server.port": port, "http.response.status_code": status}
    span = tracing.start_span(
        "voicebot.http_request", turn.tool_span if turn is not None else None, attributes, start_time=started_ns
    )
    tracing.end_span(span, error=error or (str(status) if status is not None and status >= 500 else None))


def egress_blocked(reason: str) -> None:
    metrics.egress_blocked(reason)


# --- voice (audio.pipeline) -------------------------------------------------------------------------------
class Timed:
    """A span plus a duration, for ASR and each TTS chunk."""

    __slots__ = ("attributes", "kind", "name", "span", "started")

    def __init__(self, kind: str, name: str, attributes: dict[str, Any]) -> None:
        self.kind, self.name, self.attributes = kind, name, attributes

    def __enter__(self) -> Timed:
        self.started = time.perf_counter()
        self.span = tracing.start_span(self.name, _parent_span(), self.attributes)
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        seconds = time.perf_counter() - self.started
        if exc_type is None and self.kind == "asr":
            metrics.asr_observed(_channel(), seconds)
        if self.span is not None:
            error = None if exc_type is None else ("interrupted" if _is_cancel(exc_type) else f"{self.kind}_error")
            tracing.end_span(self.span, error=error, attributes={"voicebot.duration_ms": round(seconds * 1000)})


def asr(engine: str, audio_seconds: float) -> Timed:
    return Timed("asr", "voicebot.asr", {"voicebot.asr.engine": engine, "voicebot.audio_s": round(audio_seconds, 3)})


def tts_chunk(vendor: str, chars: int) -> Timed:
    return Timed("tts", "voicebot.tts_chunk", {"voicebot.tts.vendor": vendor, "voicebot.tts.chars": chars})


def voice_timings(timings: dict[str, int]) -> None:
    """The spoken turn's first-audio timings (ms), as audio.pipeline computed them."""
    metrics.voice_observed(
        _channel(), tts_first_audio_ms=timings.get("tts_first_audio"), voice_to_voice_ms=timings.get("voice_to_voice")
    )


# --- sockets, sandbox, models ---------------------------------------------------------------------------------
def socket_opened(kind: str) -> str:
    """Count an accepted socket; keep the returned kind and pass it to `socket_closed`."""
    metrics.socket_opened(kind)
    return kind


def socket_closed(kind: str | None) -> None:
    """Uncount a socket counted by `socket_opened` (None, for one never accepted, is a no-op)."""
    if kind:
        metrics.socket_closed(kind)


codex_run = metrics.codex_run
sandbox_killed = metrics.sandbox_killed
model_loaded = metrics.model_loaded
model_cache_size = metrics.model_cache_size


def _is_cancel(exc_type: type) -> bool:
    return exc_type.__name__ in ("CancelledError", "GeneratorExit")
