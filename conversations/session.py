"""The conversation session: what every transport shares between its frames and the engine.

A transport (Studio talk socket, public widget socket, REST chat and talk/stream, `voicebot_run`, a
phone line) is a thin adapter: it parses its frames, authorises (admission: staff for the Studio, the
ownership service for widget visitors), and hands each request to a `ConversationSession` as an
*event factory* (a callable returning the engine's or the voice pipeline's event stream, given the
`TurnOptions` the session prepared). The session then owns, in one place:

- **the lock and the line**: each request waits its turn on the conversation's one lock
  (`conversations.engine.turn_lock`), in order, bounded; over the bound the request gets a clear
  `error` (`queue_full` / `busy`), never a silent drop;
- **cancel / barge-in**: `cancel()` stops the running turn (the engine stores what was said, marked
  interrupted) and answers it with `done {interrupted: true}`;
- **req_id bookkeeping**: every event of a request carries its `req_id`; `done` (or `error`) then
  `status idle` close each request, in the shape of the transport's `WirePolicy`;
- **flags**: `debug` (the model request as a `debug_llm_request` tool call) reaches the engine through
  `TurnOptions`; `test_flag` is the transport's to apply when it creates a conversation;
- **wire encoding**: `wire()` is the only function that turns an event into the reference's JSON.

Transports that push (sockets) call `submit()`; transports that pull (NDJSON, a JSON answer, the mic
loop) iterate `events()`. Both go through `_serve`, so the rules cannot drift apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from conversations.engine import turn_lock
from conversations.engine.events import (
    Audio,
    ConversationStarted,
    Done,
    Error,
    Event,
    Metrics,
    TextDelta,
    ToolCall,
    ToolResult,
    Transcript,
    to_wire,
)
from conversations.engine.turn import TurnOptions
from observability import observe

log = logging.getLogger(__name__)

TURN_FAILED = "Something went wrong in this turn; please try again."
EventFactory = Callable[[TurnOptions], AsyncIterator[Event]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class UserFacingError(Exception):
    """An error whose message tells the user what to fix (a speech model that cannot load, a voice
    that cannot speak). The session sends its text; any other exception becomes TURN_FAILED."""

    code = "error"


@dataclass(frozen=True)
class WirePolicy:
    """What a transport shows of a turn. The Studio sees everything; a widget visitor sees text."""

    hidden: tuple[type, ...] = ()
    done_after_error: bool = False  # the Studio socket closes every request with `done`, even after an error
    done_metrics: bool = True
    done_extra: Callable[[Done], dict[str, Any]] | None = None  # e.g. REST adds conversation_id/message_id


STUDIO_POLICY = WirePolicy(done_after_error=True)
PUBLIC_POLICY = WirePolicy(
    hidden=(ToolCall, ToolResult, Audio, Transcript, Metrics, ConversationStarted), done_metrics=False
)


def public_policy(key: Any) -> WirePolicy:
    """A widget visitor sees the reply, never tools or audio; model name, tokens, cost and timings in
    `done.metrics` only when the client key allows it (`show_turn_details`, off by default)."""
    if getattr(key, "show_turn_details", False):
        return replace(PUBLIC_POLICY, done_metrics=True)
    return PUBLIC_POLICY


@dataclass
class _Request:
    req_id: Any
    conversation_id: str
    factory: EventFactory
    options: TurnOptions
    said: list[str] = field(default_factory=list)
    task: asyncio.Task | None = None
    running: bool = False  # holds the lock now
    started: bool = False  # got the lock at some point (a cancel then answers `done interrupted`)
    finished: bool = False


class ConversationSession:
    """One transport connection's requests, each run in its conversation's line (see module doc)."""

    def __init__(
        self, send: Send | None = None, *, policy: WirePolicy = STUDIO_POLICY, channel: str = "studio"
    ) -> None:
        self._send = send
        self.policy = policy
        self.channel = channel  # studio | widget | rest | cli | phone: a label for logs and metrics
        self._requests: list[_Request] = []
        self.closed = False

    # --- encoding --------------------------------------------------------------------------------
    def wire(self, event: Event, req_id: Any = None) -> dict[str, Any] | None:
        """The event as the transport's JSON, or None when the policy hides it."""
        if self.policy.hidden and isinstance(event, self.policy.hidden):
            return None
        if isinstance(event, TextDelta) and not event.delta:
            return None
        payload = to_wire(event)
        if isinstance(event, Done):
            if not self.policy.done_metrics:
                payload["metrics"] = {}
            if self.policy.done_extra is not None:
                payload.update(self.policy.done_extra(event))
        if req_id is not None:
            payload["req_id"] = req_id
        return payload

    # --- state -----------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return any(not r.finished for r in self._requests)

    @property
    def running_req_id(self) -> Any:
        running = next((r for r in self._requests if r.running and not r.finished), None)
        return running.req_id if running else None

    # --- pull: iterate a request's events ----------------------------------------------------------
    async def events(
        self, conversation_id: Any, factory: EventFactory, *, options: TurnOptions | None = None, req_id: Any = None
    ) -> AsyncIterator[Event]:
        """Wait for the conversation's turn, then yield the request's events; errors become `Error`
        events. Closing the iterator cancels the turn (the engine stores what was said)."""
        request = _Request(req_id, str(conversation_id), factory, options or TurnOptions())
        async with contextlib.aclosing(self._serve(request)) as stream:  # closing this closes the turn now
            async for event in stream:
                yield event

    async def _serve(self, request: _Request) -> AsyncIterator[Event]:
        self._requests.append(request)
        turn = observe.turn_begin(self.channel, request.conversation_id)  # metrics, span and log line
        try:
            async with turn_lock.wait_for_turn(request.conversation_id) as token:
                turn.running()
                request.running = request.started = True
                request.options.lock_token = token
                events = turn.wrap(request.factory(request.options))
                async with contextlib.aclosing(events) as stream:
                    async for event in stream:
                        if isinstance(event, TextDelta):
                            request.said.append(event.delta)
                        if isinstance(event, Done | Error):
                            turn.finish(event)
                            await turn_lock.release(request.conversation_id, token)  # the next may start
                        yield event
        except turn_lock.QueueFull as exc:
            yield turn.finish(Error(str(exc), code="queue_full"))
        except turn_lock.TurnWaitTimeout as exc:
            yield turn.finish(Error(str(exc), code="busy"))
        except UserFacingError as exc:
            yield turn.finish(Error(str(exc), code=exc.code))
        except (asyncio.CancelledError, GeneratorExit):
            raise
        except Exception:
            log.exception("turn failed in conversation %s", request.conversation_id)
            yield turn.finish(Error(TURN_FAILED, code="internal"))
        finally:
            turn.close()
            request.running = False
            request.finished = True
            self._requests.remove(request)

    # --- push: run a request and send its events ---------------------------------------------------
    def submit(
        self, conversation_id: Any, req_id: Any, factory: EventFactory, *, options: TurnOptions | None = None
    ) -> asyncio.Task:
        """Queue a request; its events go to `send` with `req_id`, closed by done/error and idle."""
        assert self._send is not None, "a pushing session needs send()"
        request = _Request(req_id, str(conversation_id), factory, options or TurnOptions())
        request.task = asyncio.create_task(self._pump(request))
        return request.task

    async def _pump(self, request: _Request) -> None:
        finished = False
        try:
            async with contextlib.aclosing(self._serve(request)) as stream:
                async for event in stream:
                    await self.send_event(event, request.req_id)
                    if isinstance(event, Done):
                        finished = True
                    elif isinstance(event, Error):
                        finished = not self.policy.done_after_error
            if not finished:
                await self.send({"type": "done", "text": "".join(request.said), "metrics": {}}, request.req_id)
        except asyncio.CancelledError:
            if request.started and not self.closed:  # barge-in: what was said, marked interrupted
                said = "".join(request.said)
                await self.send({"type": "done", "text": said, "metrics": {}, "interrupted": True}, request.req_id)
                await self.send({"type": "status", "stage": "idle"}, request.req_id)
            raise
        await self.send({"type": "status", "stage": "idle"}, request.req_id)

    async def send_event(self, event: Event, req_id: Any) -> None:
        payload = self.wire(event, req_id)
        if payload is not None:
            await self._emit(payload)

    async def send(self, payload: dict[str, Any], req_id: Any) -> None:
        """A transport's own event (conversation, history, error) with the request's req_id."""
        await self._emit({**payload, "req_id": req_id})

    async def error(self, message: str, req_id: Any, *, code: str = "bad_request") -> None:
        await self.send(to_wire(Error(message, code=code)), req_id)

    async def _emit(self, payload: dict[str, Any]) -> None:
        if not self.closed and self._send is not None:
            await self._send(payload)

    # --- cancel ----------------------------------------------------------------------------------
    async def cancel(self) -> Any:
        """Barge-in: cancel the running request (it answers `done interrupted`); returns its req_id,
        or None when nothing runs. Waiting requests stay in line."""
        running = next((r for r in self._requests if r.running and r.task is not None), None)
        if running is None:
            return None
        running.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await running.task
        return running.req_id

    async def close(self) -> None:
        """The connection is gone: cancel everything it started (what was said stays stored)."""
        self.closed = True
        tasks = [r.task for r in self._requests if r.task is not None and not r.task.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
