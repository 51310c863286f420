"""A loopback OpenAI API: the real `openai` SDK talks to it over HTTP + SSE, nothing is mocked.

Speaks what the engine uses:
- `POST /v1/responses` (streamed SSE events as NOTES.md lists them, or one JSON response),
- `POST /v1/chat/completions` (streamed chunks with text, tool_calls and a usage chunk, or one JSON),
- `GET /v1/models`,
- errors as the JSON bodies the SDK parses (`{"error": {"message", "type", "code"}}`).

Scripted by a FIFO queue; each model request takes the next script (a default reply when empty)::

    double.queue_text("Hello. How are you?")
    double.queue_tool_call("set_metadata", {"firstName": "Ana", "next_reply": "Hi {{.firstName}}"})
    double.queue_tool_calls([("a", {}), ("b", {})], text_before="Let me check. ")
    double.queue_error(500)
    double.queue_text("Hel", fail_after_tokens=1)     # stream breaks after the first token
    double.queue_text("slow", ttft_s=5)               # for timeout tests

`double.requests` holds every received JSON body (model calls, in order); `double.paths` their paths.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_TOKEN_RE = re.compile(r"\s*\S+\s*|\s+")
ERROR_TYPES = {
    400: ("invalid_request_error", "invalid_request"),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "forbidden"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("rate_limit_exceeded", "rate_limit_exceeded"),
    500: ("server_error", "server_error"),
    503: ("server_error", "overloaded"),
}
ERROR_MESSAGES = {
    401: "Incorrect API key provided: sk-te********uble.",
    429: "Rate limit reached for requests.",
    500: "The server had an error while processing your request.",
}


def split_tokens(text: str) -> list[str]:
    """Word-sized deltas with their whitespace, like a model's stream."""
    return _TOKEN_RE.findall(text) if text else []


@dataclass
class ScriptedCall:
    name: str
    arguments: str  # raw JSON text (may be deliberately malformed)
    call_id: str
    item_id: str = field(default_factory=lambda: f"fc_{uuid.uuid4().hex[:12]}")


@dataclass
class Script:
    """One model response."""

    text: str = ""
    calls: list[ScriptedCall] = field(default_factory=list)
    error_status: int | None = None
    error_message: str = ""
    fail_after_tokens: int | None = None  # break the stream after N text tokens
    failure: str = "disconnect"  # disconnect | error_event
    ttft_s: float | None = None
    token_delay_s: float | None = None
    usage: dict[str, int] | None = None  # override the reported usage; {} = report none
    burst: bool = False  # write the whole stream at once (every delta reaches the client in one read)


class OpenAIDouble:
    def __init__(self, *, ttft_s: float = 0.0, token_delay_s: float = 0.0, default_text: str = "OK.") -> None:
        self.ttft_s = ttft_s
        self.token_delay_s = token_delay_s
        self.default_text = default_text
        self.report_usage = True
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.headers: list[dict[str, str]] = []
        self.first_token_at: list[float] = []  # perf_counter() just before each response's first delta is written
        self._queue: deque[Script] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- scripting -------------------------------------------------------------------------------
    def queue(self, script: Script) -> Script:
        with self._lock:
            self._queue.append(script)
        return script

    def queue_text(self, text: str, **options: Any) -> Script:
        return self.queue(Script(text=text, **options))

    def queue_tool_call(
        self, name: str, arguments: dict | str, *, text_before: str = "", call_id: str | None = None, **options: Any
    ) -> Script:
        return self.queue_tool_calls([(name, arguments, call_id)], text_before=text_before, **options)

    def queue_tool_calls(self, calls: list[tuple], *, text_before: str = "", **options: Any) -> Script:
        """`calls`: (name, arguments) or (name, arguments, call_id) tuples, emitted in order in one response."""
        scripted = []
        for entry in calls:
            name, arguments = entry[0], entry[1]
            call_id = (entry[2] if len(entry) > 2 else None) or f"call_{uuid.uuid4().hex[:12]}"
            raw = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
            scripted.append(ScriptedCall(name=name, arguments=raw, call_id=call_id))
        return self.queue(Script(text=text_before, calls=scripted, **options))

    def queue_error(self, status: int, message: str | None = None, *, times: int = 1) -> None:
        for _ in range(times):
            self.queue(Script(error_status=status, error_message=message or ERROR_MESSAGES.get(status, "Error")))

    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def _next_script(self) -> Script:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        return Script(text=self.default_text)

    # --- lifecycle -------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> OpenAIDouble:
        double = self

        class Handler(_Handler):
            pass

        Handler.double = double
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="openai-double", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> OpenAIDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def sleep(self, seconds: float) -> None:
        """Sleep that ends early when the double stops (so a hanging script never blocks teardown)."""
        if seconds > 0:
            self._stopping.wait(seconds)


def _estimate_tokens(body: dict[str, Any]) -> int:
    return max(1, len(json.dumps(body.get("input") or body.get("messages") or "")) // 4)


class _BrokenStream(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    double: OpenAIDouble
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Each SSE event is its own small write: without NODELAY, Nagle + delayed ACKs add ~40 ms stalls.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    # --- plumbing --------------------------------------------------------------------------------
    def _send_json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _start_sse(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    _held: bytearray | None = None  # a burst script's stream, written whole by _end_sse

    def _chunk(self, data: bytes) -> None:
        framed = f"{len(data):x}\r\n".encode() + data + b"\r\n"
        if self._held is not None:
            self._held.extend(framed)
            return
        self.wfile.write(framed)
        self.wfile.flush()

    def _event(self, payload: dict[str, Any], *, named: bool = True) -> None:
        prefix = f"event: {payload['type']}\n" if named and "type" in payload else ""
        self._chunk(f"{prefix}data: {json.dumps(payload)}\n\n".encode())

    def _end_sse(self) -> None:
        held, self._held = self._held, None
        self.wfile.write(bytes(held or b"") + b"0\r\n\r\n")
        self.wfile.flush()

    def _break(self) -> None:
        """Drop the connection mid-body: the client sees an incomplete chunked stream."""
        self.wfile.flush()
        self.close_connection = True
        raise _BrokenStream

    def _error(self, script: Script) -> None:
        status = script.error_status or 500
        error_type, code = ERROR_TYPES.get(status, ("server_error", "error"))
        self._send_json(
            status,
            {"error": {"message": script.error_message, "type": error_type, "param": None, "code": code}},
            headers={"retry-after-ms": "1", "x-request-id": f"req_{uuid.uuid4().hex[:8]}"},
        )

    # --- routes ----------------------------------------------------------------------------------
    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            models = ["gpt-4o-mini", "gpt-4o", "o4-mini", "gpt-5-mini"]
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "double"} for m in models]
            self._send_json(200, {"object": "list", "data": data})
            return
        self._send_json(404, {"error": {"message": "Not found", "type": "invalid_request_error", "code": None}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._send_json(400, {"error": {"message": "Invalid JSON body", "type": "invalid_request_error"}})
            return
        path = self.path.split("?", 1)[0].rstrip("/")
        if path not in ("/v1/responses", "/v1/chat/completions"):
            self._send_json(404, {"error": {"message": "Not found", "type": "invalid_request_error", "code": None}})
            return
        double = self.double
        with double._lock:
            double.requests.append(body)
            double.paths.append(path)
            double.headers.append({k.lower(): v for k, v in self.headers.items()})
        script = double._next_script()
        if script.error_status:
            self._error(script)
            return
        ttft = script.ttft_s if script.ttft_s is not None else double.ttft_s
        double.sleep(ttft)
        try:
            if path == "/v1/responses":
                self._responses(body, script)
            else:
                self._chat_completions(body, script)
        except (_BrokenStream, BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _usage(self, body: dict[str, Any], script: Script, output_tokens: int) -> dict[str, int] | None:
        if script.usage is not None:
            return script.usage or None
        if not self.double.report_usage:
            return None
        return {"input_tokens": _estimate_tokens(body), "output_tokens": max(1, output_tokens)}

    def _token_delay(self, script: Script) -> float:
        return script.token_delay_s if script.token_delay_s is not None else self.double.token_delay_s

    # --- Responses API ---------------------------------------------------------------------------
    def _responses(self, body: dict[str, Any], script: Script) -> None:
        model = body.get("model") or "gpt-4o-mini"
        response_id = f"resp_{uuid.uuid4().hex[:16]}"
        tokens = split_tokens(script.text)
        output: list[dict[str, Any]] = []
        msg_id = f"msg_{uuid.uuid4().hex[:12]}"
        if script.text:
            output.append(
                {
                    "type": "message",
                    "id": msg_id,
                    "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": script.text, "annotations": []}],
                }
            )
        for call in script.calls:
            output.append(
                {
                    "type": "function_call",
                    "id": call.item_id,
                    "call_id": call.call_id,
                    "name": call.name,
                    "arguments": call.arguments,
                    "status": "completed",
                }
            )
        usage_numbers = self._usage(body, script, len(tokens) + sum(len(c.arguments) // 4 for c in script.calls))
        usage = None
        if usage_numbers:
            usage = {
                "input_tokens": usage_numbers.get("input_tokens", 0),
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": usage_numbers.get("output_tokens", 0),
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": usage_numbers.get("input_tokens", 0) + usage_numbers.get("output_tokens", 0),
            }

        def response_object(status: str, with_output: bool) -> dict[str, Any]:
            return {
                "id": response_id,
                "object": "response",
                "created_at": int(time.time()),
                "status": status,
                "model": model,
                "output": output if with_output else [],
                "parallel_tool_calls": True,
                "tool_choice": "auto",
                "tools": body.get("tools") or [],
                "usage": usage if with_output else None,
                "error": None,
                "incomplete_details": None,
            }

        if not body.get("stream"):
            self._send_json(200, response_object("completed", True))
            return

        self._start_sse()
        self._held = bytearray() if script.burst else None
        seq = iter(range(1_000_000))
        self._event(
            {
                "type": "response.created",
                "sequence_number": next(seq),
                "response": response_object("in_progress", False),
            }
        )
        self._event(
            {
                "type": "response.in_progress",
                "sequence_number": next(seq),
                "response": response_object("in_progress", False),
            }
        )
        index = 0
        delay = self._token_delay(script)
        if script.text:
            item = {"type": "message", "id": msg_id, "status": "in_progress", "role": "assistant", "content": []}
            self._event(
                {
                    "type": "response.output_item.added",
                    "sequence_number": next(seq),
                    "output_index": index,
                    "item": item,
                }
            )
            self._event(
                {
                    "type": "response.content_part.added",
                    "sequence_number": next(seq),
                    "item_id": msg_id,
                    "output_index": index,
                    "content_index": 0,
                    "part": {"type": "output_text", "text": "", "annotations": []},
                }
            )
            for number, token in enumerate(tokens):
                if script.fail_after_tokens is not None and number >= script.fail_after_tokens:
                    self._fail_stream(script, seq)
                if number:
                    self.double.sleep(delay)
                else:
                    self.double.first_token_at.append(time.perf_counter())
                self._event(
                    {
                        "type": "response.output_text.delta",
                        "sequence_number": next(seq),
                        "item_id": msg_id,
                        "output_index": index,
                        "content_index": 0,
                        "delta": token,
                        "logprobs": [],
                    }
                )
            self._event(
                {
                    "type": "response.output_text.done",
                    "sequence_number": next(seq),
                    "item_id": msg_id,
                    "output_index": index,
                    "content_index": 0,
                    "text": script.text,
                    "logprobs": [],
                }
            )
            part = {"type": "output_text", "text": script.text, "annotations": []}
            self._event(
                {
                    "type": "response.content_part.done",
                    "sequence_number": next(seq),
                    "item_id": msg_id,
                    "output_index": index,
                    "content_index": 0,
                    "part": part,
                }
            )
            self._event(
                {
                    "type": "response.output_item.done",
                    "sequence_number": next(seq),
                    "output_index": index,
                    "item": output[0],
                }
            )
            index += 1
        elif script.fail_after_tokens is not None:
            self._fail_stream(script, seq)
        for call in script.calls:
            item_id = call.item_id
            added = {
                "type": "function_call",
                "id": item_id,
                "call_id": call.call_id,
                "name": call.name,
                "arguments": "",
                "status": "in_progress",
            }
            self._event(
                {
                    "type": "response.output_item.added",
                    "sequence_number": next(seq),
                    "output_index": index,
                    "item": added,
                }
            )
            if not script.text and index == 0:
                self.double.first_token_at.append(time.perf_counter())
            for piece in _pieces(call.arguments):
                self._event(
                    {
                        "type": "response.function_call_arguments.delta",
                        "sequence_number": next(seq),
                        "item_id": item_id,
                        "output_index": index,
                        "delta": piece,
                    }
                )
            self._event(
                {
                    "type": "response.function_call_arguments.done",
                    "sequence_number": next(seq),
                    "item_id": item_id,
                    "output_index": index,
                    "name": call.name,
                    "arguments": call.arguments,
                }
            )
            done_item = dict(added, arguments=call.arguments, status="completed")
            self._event(
                {
                    "type": "response.output_item.done",
                    "sequence_number": next(seq),
                    "output_index": index,
                    "item": done_item,
                }
            )
            index += 1
        self._event(
            {"type": "response.completed", "sequence_number": next(seq), "response": response_object("completed", True)}
        )
        self._end_sse()

    def _fail_stream(self, script: Script, seq: Any) -> None:
        if script.failure == "error_event":
            self._event(
                {
                    "type": "error",
                    "sequence_number": next(seq),
                    "error": {
                        "message": "The server had an error while streaming.",
                        "type": "server_error",
                        "code": "server_error",
                    },
                }
            )
            self._end_sse()
            raise _BrokenStream
        self._break()

    # --- Chat Completions ------------------------------------------------------------------------
    def _chat_completions(self, body: dict[str, Any], script: Script) -> None:
        model = body.get("model") or "gpt-4o-mini"
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:16]}"
        created = int(time.time())
        tokens = split_tokens(script.text)
        numbers = self._usage(body, script, len(tokens) + sum(len(c.arguments) // 4 for c in script.calls))
        usage = None
        if numbers:
            prompt, completion = numbers.get("input_tokens", 0), numbers.get("output_tokens", 0)
            usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
        finish = "tool_calls" if script.calls else "stop"
        tool_calls = [
            {"id": c.call_id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in script.calls
        ]
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": script.text or None}
            if tool_calls:
                message["tool_calls"] = tool_calls
            self._send_json(
                200,
                {
                    "id": completion_id,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
                    "usage": usage,
                },
            )
            return

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            return {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
            }

        self._start_sse()
        self._held = bytearray() if script.burst else None
        self._event(chunk({"role": "assistant", "content": ""}), named=False)
        delay = self._token_delay(script)
        for number, token in enumerate(tokens):
            if script.fail_after_tokens is not None and number >= script.fail_after_tokens:
                self._break()
            if number:
                self.double.sleep(delay)
            else:
                self.double.first_token_at.append(time.perf_counter())
            self._event(chunk({"content": token}), named=False)
        if not tokens and script.fail_after_tokens is not None:
            self._break()
        for position, call in enumerate(script.calls):
            if not tokens and position == 0:
                self.double.first_token_at.append(time.perf_counter())
            head = {
                "index": position,
                "id": call.call_id,
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            self._event(chunk({"tool_calls": [head]}), named=False)
            for piece in _pieces(call.arguments):
                self._event(chunk({"tool_calls": [{"index": position, "function": {"arguments": piece}}]}), named=False)
        self._event(chunk({}, finish), named=False)
        if usage and (body.get("stream_options") or {}).get("include_usage"):
            self._event(
                {
                    "id": completion_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [],
                    "usage": usage,
                },
                named=False,
            )
        self._chunk(b"data: [DONE]\n\n")
        self._end_sse()


def _pieces(text: str, size: int = 12) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]
