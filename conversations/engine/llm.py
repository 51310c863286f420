"""The LLM client layer: which key and server a bot uses, one cached SDK client per (key, server),
and one streaming function that speaks either the Responses API or Chat Completions and yields the
same small events for both.

The engine's working format for model input is the Responses API's item list (role messages,
`function_call`, `function_call_output`); `to_chat_messages` converts it for Chat Completions
servers (Ollama, vLLM, LM Studio, Azure), chosen by a ProviderKey's `api_style`.
Retries and timeouts are the SDK's own, configured from settings.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx2
import openai
import orjson
from django.conf import settings

from conversations.engine.loop_clients import LoopScopedClients
from conversations.engine.provider_http import ProviderAddressBlocked, guarded_aiohttp_client

if TYPE_CHECKING:
    from bots.models import Bot

RESPONSES = "responses"
CHAT_COMPLETIONS = "chat_completions"
NO_KEY_MESSAGE = "No OpenAI key configured for this bot."


class LLMError(Exception):
    """A model call failed; `message` is safe to show to the user, `code` is machine-readable."""

    def __init__(self, message: str, code: str = "provider_error") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class LLMTarget:
    api_key: str = field(repr=False)
    base_url: str | None
    api_style: str
    model: str


def resolve_target(bot: Bot) -> LLMTarget:
    """The bot's stored key (decrypted), else the server's OPENAI_API_KEY. Synchronous (ORM, crypto).

    Raises LLMError("No OpenAI key configured for this bot.") when there is none, and a readable
    LLMError when the stored key cannot be decrypted.
    """
    from bots.crypto import SecretError

    key = bot.openai_key
    if key is not None:
        try:
            secret = key.get_secret()
        except SecretError as exc:
            raise LLMError(f"The bot's stored API key cannot be used: {exc}", "key_error") from exc
        if secret:
            return LLMTarget(secret, key.base_url or None, key.api_style or RESPONSES, bot.openai_model)
    secret = settings.OPENAI_API_KEY
    if not secret:
        raise LLMError(NO_KEY_MESSAGE, "no_key")
    style = getattr(settings, "OPENAI_API_STYLE", RESPONSES) or RESPONSES
    return LLMTarget(secret, settings.OPENAI_BASE_URL or None, style, bot.openai_model)


# One client per (key, server, timeout, retries) and event loop, reused by every turn: a connection
# pool belongs to the loop that opened it, and sync views drive the engine on short-lived loops
# (async_to_sync); the clients close with their loop (`loop_clients`). The transport is aiohttp (a
# pool that does not scan every connection per request) with the provider peer check
# (`provider_http.guarded_aiohttp_client`).
_clients: LoopScopedClients[openai.AsyncOpenAI] = LoopScopedClients(max_per_loop=32)


def client_for(target: LLMTarget) -> openai.AsyncOpenAI:
    timeout = float(settings.VOICEBOT_OPENAI_TIMEOUT_S)
    retries = int(settings.VOICEBOT_OPENAI_MAX_RETRIES)
    cache_key = (hashlib.sha256(target.api_key.encode()).hexdigest(), target.base_url or "", timeout, retries)
    return _clients.get(
        cache_key,
        lambda: openai.AsyncOpenAI(
            api_key=target.api_key,
            base_url=target.base_url,
            timeout=timeout,
            max_retries=retries,
            http_client=guarded_aiohttp_client(),  # refuses metadata/link-local peers on connect
        ),
    )


# --- stream events ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TextChunk:
    text: str


@dataclass(frozen=True, slots=True)
class FunctionCall:
    call_id: str
    name: str
    arguments: str


@dataclass(slots=True)
class StreamEnd:
    """Last event of a model call: the items to send back next step, and the reported usage."""

    output_items: list[dict[str, Any]]
    input_tokens: int | None = None
    output_tokens: int | None = None


StreamEvent = TextChunk | FunctionCall | StreamEnd


def request_payload(target: LLMTarget, items: list[dict[str, Any]], tools: list[dict[str, Any]]) -> dict[str, Any]:
    """The exact request body (what debug mode shows and stores)."""
    if target.api_style == CHAT_COMPLETIONS:
        payload: dict[str, Any] = {"model": target.model, "messages": to_chat_messages(items), "stream": True}
        if tools:
            payload["tools"] = chat_tools(tools)
        payload["stream_options"] = {"include_usage": True}
        return payload
    payload = {"model": target.model, "input": items, "stream": True}
    if tools:
        payload["tools"] = tools
    return payload


async def stream_model(
    target: LLMTarget, items: list[dict[str, Any]], tools: list[dict[str, Any]]
) -> AsyncIterator[StreamEvent]:
    """Stream one model call. Raises LLMError (with a human message) for every provider failure."""
    started = False
    try:
        if target.api_style == CHAT_COMPLETIONS:
            async for event in _stream_chat(target, items, tools):
                started = True
                yield event
        else:
            async for event in _stream_responses(target, items, tools):
                started = True
                yield event
    except openai.APIConnectionError as exc:
        if started and not isinstance(exc, openai.APITimeoutError):
            raise LLMError("The model's reply was cut off (the connection broke).", "provider_error") from exc
        raise describe_error(exc) from exc
    except openai.OpenAIError as exc:
        raise describe_error(exc) from exc


# Streams are read as plain dicts: the SDK still sends the request (retries, timeouts, auth, error
# mapping), but no pydantic model is built per event (the whole response object three times per call,
# which cost more CPU than everything else in the stream), and the SSE body is split and decoded here
# (`_DictStream`, orjson) rather than line by line by the SDK's decoder (~17% of the server's CPU per
# widget turn, docs/performance.md). `input`/`tools`/`messages` are already plain JSON, so they go out
# as they are instead of through the SDK's typed transform (tens of ms per call with history).
_STREAM_OPTIONS: dict[str, Any] = {"security": {"bearer_auth": True}}


class _DictStream(openai.AsyncStream[object]):
    """An SSE response as decoded JSON objects, with the SDK's stream rules: an event whose data has
    an `error` raises `openai.APIError`; `[DONE]` ends it (the rest of the body is still read, so
    the connection goes back to the pool); transport failures become APITimeoutError /
    APIConnectionError; the response is closed at the end whatever happens.

    `batches()` yields the events of each network read together, so a reader can merge what
    arrived at once (text deltas) without waiting for anything."""

    async def __stream__(self) -> AsyncIterator[Any]:
        async for batch in self.batches():
            for value in batch:
                yield value

    async def batches(self) -> AsyncIterator[list[Any]]:
        response = self.response
        buffer = b""
        done = False
        try:
            try:
                async for chunk in response.aiter_bytes():
                    buffer = (buffer + chunk) if buffer else chunk
                    if b"\r" in buffer:
                        buffer = buffer.replace(b"\r\n", b"\n")
                    if done or b"\n\n" not in buffer:
                        continue
                    *events, buffer = buffer.split(b"\n\n")
                    batch = []
                    failure = None
                    for raw in events:
                        data = _sse_data(raw)
                        if data is None:
                            continue
                        if data.startswith(b"[DONE]"):
                            done = True
                            break
                        value = orjson.loads(data)
                        if isinstance(value, dict) and value.get("error"):
                            failure = _stream_error(value["error"], response.request)
                            break
                        batch.append(value)
                    if batch:
                        yield batch  # what came before an error event was said
                    if failure is not None:
                        raise failure
            except httpx2.TimeoutException as exc:
                raise openai.APITimeoutError(request=response.request) from exc
            except httpx2.TransportError as exc:
                raise openai.APIConnectionError(request=response.request) from exc
        finally:
            await response.aclose()


def _sse_data(raw: bytes) -> bytes | None:
    """The `data` of one SSE event (its data lines joined), or None for comments and empty events."""
    if raw.startswith(b"data: ") and b"\n" not in raw:  # the usual shape: one data line
        return raw[6:]
    lines = [line[5:].removeprefix(b" ") for line in raw.split(b"\n") if line.startswith(b"data:")]
    return b"\n".join(lines) if lines else None


def _stream_error(error: Any, request: httpx2.Request) -> openai.APIError:
    message = error.get("message") if isinstance(error, dict) else None
    if not message or not isinstance(message, str):
        message = "An error occurred during streaming"
    return openai.APIError(message=message, request=request, body=error)


async def _post_stream(target: LLMTarget, path: str, body: dict[str, Any]) -> _DictStream:
    return await client_for(target).post(
        path, cast_to=object, body=body, options=_STREAM_OPTIONS, stream=True, stream_cls=_DictStream
    )


def _field(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, dict) else None


async def _stream_responses(
    target: LLMTarget, items: list[dict[str, Any]], tools: list[dict[str, Any]]
) -> AsyncIterator[StreamEvent]:
    body: dict[str, Any] = {"model": target.model, "input": items, "stream": True}
    if tools:
        body["tools"] = tools
    stream = await _post_stream(target, "/responses", body)
    completed = first_sent = False
    try:
        async for batch in stream.batches():
            # Deltas that arrived in one read go out as one chunk: nothing waits, and a process that
            # falls behind sends fewer, larger websocket messages instead of more small ones.
            text: list[str] = []
            for event in batch:
                if not isinstance(event, dict):
                    continue
                kind = event.get("type")
                if kind == "response.output_text.delta":
                    delta = event.get("delta")
                    if delta and not first_sent:  # the first delta goes out alone, at once
                        first_sent = True
                        yield TextChunk(delta)
                    elif delta:
                        text.append(delta)
                    continue
                found = _responses_event(kind, event)
                if found is None:
                    continue
                if text:
                    yield TextChunk("".join(text))
                    text = []
                completed = completed or type(found) is StreamEnd
                yield found
            if text:
                yield TextChunk("".join(text))
    finally:
        await stream.close()
    if not completed:
        raise LLMError("The model stream ended unexpectedly.", "provider_error")


def _responses_event(kind: Any, event: dict[str, Any]) -> StreamEvent | None:
    """A Responses API stream event other than a text delta as our event (None: nothing for us).
    Raises LLMError for a failed or incomplete response."""
    if kind == "response.output_item.done":
        item = event.get("item")
        if _field(item, "type") == "function_call":
            return FunctionCall(
                item.get("call_id") or item.get("id") or "", item.get("name") or "", item.get("arguments") or ""
            )
    elif kind == "response.completed":
        response = event.get("response") or {}
        usage = response.get("usage")
        output = [_dump_item(item) for item in response.get("output") or [] if isinstance(item, dict)]
        return StreamEnd(output, _field(usage, "input_tokens"), _field(usage, "output_tokens"))
    elif kind in ("response.failed", "response.incomplete"):
        response = event.get("response")
        detail = _field(_field(response, "error"), "message") or _field(
            _field(response, "incomplete_details"), "reason"
        )
        raise LLMError(f"The model stopped before finishing ({detail or kind}).", "provider_error")
    return None


def _without_none(value: Any) -> Any:
    """What `model_dump(exclude_none=True)` gave when events were pydantic models."""
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def _dump_item(item: dict[str, Any]) -> dict[str, Any]:
    data = _without_none(item)
    if data.get("type") == "message":
        # Input items reject output-only fields such as logprobs on text parts.
        data["content"] = [
            {k: v for k, v in part.items() if k in ("type", "text", "annotations")}
            for part in data.get("content", [])
            if isinstance(part, dict)
        ]
    return data


async def _stream_chat(
    target: LLMTarget, items: list[dict[str, Any]], tools: list[dict[str, Any]]
) -> AsyncIterator[StreamEvent]:
    body: dict[str, Any] = {
        "model": target.model,
        "messages": to_chat_messages(items),
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if tools:
        body["tools"] = chat_tools(tools)
    stream = await _post_stream(target, "/chat/completions", body)
    text_parts: list[str] = []
    calls: dict[int, dict[str, str]] = {}
    usage = None
    try:
        async for batch in stream.batches():
            said = len(text_parts)
            for chunk in batch:
                if not isinstance(chunk, dict):
                    continue
                if chunk.get("usage") is not None:
                    usage = chunk["usage"]
                for choice in chunk.get("choices") or []:
                    delta = _field(choice, "delta")
                    if not isinstance(delta, dict):
                        continue
                    content = delta.get("content")
                    if content and not text_parts:  # the first delta goes out alone, at once
                        text_parts.append(content)
                        said = 1
                        yield TextChunk(content)
                    elif content:
                        text_parts.append(content)
                    for call in delta.get("tool_calls") or []:
                        if not isinstance(call, dict):
                            continue
                        slot = calls.setdefault(call.get("index") or 0, {"id": "", "name": "", "arguments": ""})
                        if call.get("id"):
                            slot["id"] = call["id"]
                        function = call.get("function")
                        if isinstance(function, dict):
                            slot["name"] += function.get("name") or ""
                            slot["arguments"] += function.get("arguments") or ""
            if len(text_parts) > said:  # the text of one read as one chunk (see _stream_responses)
                yield TextChunk("".join(text_parts[said:]))
    finally:
        await stream.close()
    output: list[dict[str, Any]] = []
    if text_parts:
        output.append({"role": "assistant", "content": "".join(text_parts)})
    for index in sorted(calls):
        slot = calls[index]
        call_id = slot["id"] or f"call_{index}"
        yield FunctionCall(call_id, slot["name"], slot["arguments"])
        output.append(
            {"type": "function_call", "call_id": call_id, "name": slot["name"], "arguments": slot["arguments"]}
        )
    yield StreamEnd(output, _field(usage, "prompt_tokens"), _field(usage, "completion_tokens"))


# --- format conversion -----------------------------------------------------------------------------
def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def to_chat_messages(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Responses-API input items → Chat Completions messages.

    Consecutive function calls join the assistant message before them as `tool_calls`; their outputs
    follow as `tool` messages. Reasoning items have no Chat Completions form and are dropped.
    """
    messages: list[dict[str, Any]] = []
    pending_outputs: list[dict[str, Any]] = []

    def flush() -> None:
        messages.extend(pending_outputs)
        pending_outputs.clear()

    for item in items:
        kind = item.get("type", "message")
        if kind == "function_call":
            last = messages[-1] if messages and not pending_outputs else None
            if last is None or last.get("role") != "assistant":
                flush()
                last = {"role": "assistant", "content": None}
                messages.append(last)
            last.setdefault("tool_calls", []).append(
                {
                    "id": item.get("call_id", ""),
                    "type": "function",
                    "function": {"name": item.get("name", ""), "arguments": item.get("arguments", "")},
                }
            )
        elif kind == "function_call_output":
            pending_outputs.append(
                {"role": "tool", "tool_call_id": item.get("call_id", ""), "content": str(item.get("output", ""))}
            )
        elif kind == "message" or "role" in item:
            flush()
            role = item.get("role", "user")
            messages.append(
                {"role": "system" if role == "developer" else role, "content": _text_of(item.get("content"))}
            )
    flush()
    # A call's output may arrive after the next call was appended: move every tool message right
    # after the assistant message that holds its call (Chat Completions requires that order).
    return _order_tool_messages(messages)


def _order_tool_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    outputs = {m["tool_call_id"]: m for m in messages if m.get("role") == "tool"}
    ordered: list[dict[str, Any]] = []
    for message in messages:
        if message.get("role") == "tool":
            continue
        ordered.append(message)
        for call in message.get("tool_calls", []):
            output = outputs.get(call["id"])
            if output is not None:
                ordered.append(output)
    return ordered


def chat_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Responses function tools → Chat Completions `{"type":"function","function":{…}}`."""
    converted = []
    for tool in tools:
        function = {"name": tool.get("name", ""), "parameters": tool.get("parameters") or {"type": "object"}}
        if tool.get("description"):
            function["description"] = tool["description"]
        converted.append({"type": "function", "function": function})
    return converted


# --- one-shot calls (tools that ask a model once: web_search's summary, the Codex script) ----------
def uses_responses_api(target: LLMTarget) -> bool:
    """True for the Responses API; hosted tools (web search) exist only there."""
    return target.api_style != CHAT_COMPLETIONS


async def complete(target: LLMTarget, *, system: str, user: str, json_schema: dict[str, Any] | None = None) -> str:
    """One system + user request in the target's API style, not streamed; the reply's text.

    `json_schema` (`{"name", "strict", "schema"}`) asks for structured output in either style.
    Provider failures are raised as readable LLMErrors.
    """
    client = client_for(target)
    try:
        if not uses_responses_api(target):
            structured = {"response_format": {"type": "json_schema", "json_schema": json_schema}} if json_schema else {}
            reply = await client.chat.completions.create(
                model=target.model,
                messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
                **structured,
            )
            return (reply.choices[0].message.content or "") if reply.choices else ""
        structured = {"text": {"format": {"type": "json_schema", **json_schema}}} if json_schema else {}
        reply = await client.responses.create(
            model=target.model,
            input=[
                {"role": "system", "content": [{"type": "input_text", "text": system}]},
                {"role": "user", "content": [{"type": "input_text", "text": user}]},
            ],
            **structured,
        )
        return reply.output_text or ""
    except Exception as exc:  # SDK errors become readable LLMErrors
        raise describe_error(exc) from exc


# --- errors ----------------------------------------------------------------------------------------
def _refused(exc: BaseException) -> bool:
    """Whether a "timeout" is really a refused connection: the aiohttp bridge reports a failed connect
    (aiohttp's ClientConnectorError) as httpx's ConnectTimeout, which the SDK turns into a timeout."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, ConnectionRefusedError) or type(cause).__name__ == "ClientConnectorError":
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def describe_error(exc: BaseException) -> LLMError:
    """A provider failure as a message a user (or staff member) can act on."""
    if isinstance(exc, LLMError):
        return exc
    if isinstance(exc, openai.APITimeoutError) and not _refused(exc):
        return LLMError("The model provider did not answer in time. Please try again.", "provider_timeout")
    if isinstance(exc, ProviderAddressBlocked):
        return LLMError(exc.message, "provider_blocked")
    if isinstance(exc, openai.APIConnectionError):
        return LLMError("Could not reach the model provider. Please try again.", "provider_unreachable")
    if isinstance(exc, openai.AuthenticationError):
        return LLMError("The model provider rejected the API key (401). Check the bot's key.", "provider_auth")
    if isinstance(exc, openai.PermissionDeniedError):
        return LLMError("The API key may not use this model (403).", "provider_forbidden")
    if isinstance(exc, openai.RateLimitError):
        return LLMError(
            "The model provider is rate-limiting requests or the quota is used up (429). Try again shortly.",
            "provider_rate_limit",
        )
    if isinstance(exc, openai.NotFoundError):
        return LLMError(
            "The model was not found at the provider (404). Check the bot's model name.", "provider_not_found"
        )
    if isinstance(exc, openai.BadRequestError):
        return LLMError(
            f"The model provider rejected the request (400): {_provider_message(exc)}", "provider_bad_request"
        )
    if isinstance(exc, openai.APIStatusError):
        return LLMError(f"The model provider had an error ({exc.status_code}). Please try again.", "provider_error")
    if isinstance(exc, openai.APIError):
        return LLMError(f"The model stream failed: {_provider_message(exc)}", "provider_error")
    return LLMError("The model call failed.", "provider_error")


def _provider_message(exc: openai.APIError) -> str:
    body = exc.body
    message = ""
    if isinstance(body, dict):
        inner = body.get("error")
        message = (inner.get("message") if isinstance(inner, dict) else None) or body.get("message") or ""
    return str(message or exc.message or exc)[:300]


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
