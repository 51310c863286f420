"""The one NDJSON streamer of the REST endpoints (`chat/stream`, `talk/stream`).

A turn's events, through the conversation session (line, lock, error handling, wire encoding), as one
JSON object per line: `conversation` first, then the events, `done` (with `conversation_id` and
`message_id`) or `error` last, and `{"type":"ping"}` whenever nothing was sent for PING_AFTER_S so
proxies keep the response open. Closing the response (client gone) closes the turn, which stores what
was said as interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from django.http import StreamingHttpResponse

from conversations.engine.events import ConversationStarted, Done
from conversations.engine.turn import TurnOptions
from conversations.session import ConversationSession, EventFactory, WirePolicy

PING_AFTER_S = 10.0
CONTENT_TYPE = "application/x-ndjson"


def rest_policy(conversation_id: Any) -> WirePolicy:
    """REST `done` names the conversation and the stored reply, so a client can continue or look it up."""
    return WirePolicy(done_extra=lambda done: {"conversation_id": str(conversation_id), "message_id": done.message_id})


def line(payload: dict[str, Any]) -> bytes:
    return (json.dumps(payload, ensure_ascii=False) + "\n").encode("utf-8")


async def ndjson_lines(
    conversation_id: Any, factory: EventFactory, *, options: TurnOptions | None = None, ping_after: float = PING_AFTER_S
) -> AsyncIterator[bytes]:
    session = ConversationSession(policy=rest_policy(conversation_id), channel="rest")
    yield line(session.wire(ConversationStarted(str(conversation_id))) or {})
    events = session.events(conversation_id, factory, options=options)
    pending: asyncio.Future | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(events.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=ping_after)
            if not done:
                yield line({"type": "ping"})
                continue
            try:
                event = pending.result()
            except StopAsyncIteration:
                pending = None
                break
            pending = None
            payload = session.wire(event)
            if payload is not None:
                yield line(payload)
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        await events.aclose()


def ndjson_response(lines: AsyncIterator[bytes]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type=CONTENT_TYPE)
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # let nginx pass lines through as they come
    return response


async def collect(
    conversation_id: Any, factory: EventFactory, *, options: TurnOptions | None = None
) -> tuple[list[dict[str, Any]], Done | None]:
    """All of a turn's wire events (for a one-shot JSON answer) and its Done, if it finished."""
    session = ConversationSession(policy=rest_policy(conversation_id), channel="rest")
    wires: list[dict[str, Any]] = []
    done: Done | None = None
    async with contextlib.aclosing(session.events(conversation_id, factory, options=options)) as events:
        async for event in events:
            if isinstance(event, Done):
                done = event
            payload = session.wire(event)
            if payload is not None:
                wires.append(payload)
    return wires, done
