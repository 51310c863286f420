"""The turn loop: stream the model, run its tool calls, send the results back, repeat; store
everything; yield events. See docs/engine.md for the event order and the next_reply policy.

ORM work runs in threads (`sync_to_async`), each write is one transaction, and a cancelled turn
(the consumer cancels its task or closes this generator) stores what was said so far with
`interrupted=True` before it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings

from bots.models import Bot
from conversations import pricing, services
from conversations.engine import bot_config, history, turn_lock
from conversations.engine.events import (
    Done,
    Error,
    Event,
    Interim,
    Metrics,
    Status,
    TextDelta,
    ToolCall,
    ToolResult,
)
from conversations.engine.llm import (
    FunctionCall,
    LLMError,
    LLMTarget,
    StreamEnd,
    TextChunk,
    request_payload,
    stream_model,
)
from conversations.engine.tools import ToolContext, ToolOutcome, ToolSet, canonical_name
from conversations.models import Conversation, Message
from conversations.templating import render_template
from observability import observe

logger = logging.getLogger(__name__)

GREETING_FALLBACK = "Hi! How can I help you today?"
HISTORY_ROW_LIMIT = 1000  # rows read per turn; the token budget trims further
INTERNAL_ERROR = "Something went wrong while answering. Please try again."


@dataclass
class TurnOptions:
    debug: bool = False
    user_message_fields: dict[str, Any] = field(default_factory=dict)  # e.g. {"asr_ms": 412}
    extra_timings_ms: dict[str, int] = field(default_factory=dict)  # e.g. {"asr": 412}
    lock_token: str | None = None  # set by the conversation session, which already holds the turn lock
    # A stream for the first model call (an adopted speculative call, conversations.engine.speculation):
    # called with (target, items, tools); it returns None when that is not the request it made.
    model_stream: Callable[..., AsyncIterator[Any] | None] | None = None


@dataclass
class _Prepared:
    bot: Bot
    metadata: dict[str, Any]
    target: LLMTarget | None
    error: LLMError | None
    history: list[dict[str, Any]]
    tools: ToolSet | None


def _prepare(
    conversation: Conversation, user_text: str | None, user_fields: dict[str, Any], *, with_tools: bool
) -> _Prepared:
    """Everything a turn needs, in one thread hop: the bot's configuration (cached per process,
    `engine.bot_config`), the conversation's fresh metadata, the history rows, and the user's
    message stored (one INSERT; the history is read before it, the new message added in memory)."""
    found = services.turn_reads(conversation.pk, history_limit=HISTORY_ROW_LIMIT, with_history=user_text is not None)
    if found is None:
        raise Conversation.DoesNotExist("Conversation not found")
    metadata, rows = found
    config = bot_config.turn_config(conversation.bot_id)
    items: list[dict[str, Any]] = []
    if user_text is not None:
        items = history.history_items(rows)
        services.turn_user_message_store(conversation_id=conversation.pk, content=user_text, **user_fields)
        if user_text:
            items.append({"role": "user", "content": user_text})
    tools = config.tools if with_tools else None
    return _Prepared(config.bot, metadata, config.target, config.error, items, tools)


def _parse_arguments(raw: str) -> tuple[dict[str, Any] | None, str]:
    if not raw or not raw.strip():
        return {}, ""
    try:
        value = json.loads(raw)
    except ValueError as exc:
        return None, f"The arguments were not valid JSON ({exc.msg}). Call the tool again with a JSON object."
    if not isinstance(value, dict):
        return None, "The arguments must be a JSON object. Call the tool again with a JSON object."
    return value, ""


def _failure(message: str) -> ToolOutcome:
    return ToolOutcome(result={"ok": False, "error": {"message": message}}, ok=False)


class _Turn:
    """One run of the loop. Holds what cancellation needs to store (the text being said)."""

    def __init__(self, conversation: Conversation, options: TurnOptions) -> None:
        self.conversation = conversation
        self.options = options
        self.started = time.perf_counter()
        self.llm_started: float | None = None
        self.ttfb_ms: int | None = None
        self.llm_ms = 0.0
        self.input_tokens = 0
        self.output_tokens = 0
        self.speaking: list[str] | None = None  # text of the current step, stored if we are cut off
        self.model = ""
        self.finished = False
        observe.note_bot(conversation.bot_id)  # the turn's log line and span name the bot

    # --- timings and usage -----------------------------------------------------------------------
    def _mark_first_token(self, call: observe.ModelCall) -> None:
        call.first_token()
        if self.ttfb_ms is None and self.llm_started is not None:
            self.ttfb_ms = round((time.perf_counter() - self.llm_started) * 1000)

    def _timings(self) -> dict[str, int]:
        extra = {k: int(v) for k, v in self.options.extra_timings_ms.items() if v is not None}
        total = round((time.perf_counter() - self.started) * 1000) + extra.get("asr", 0)
        timings = {**extra, "total": total}
        if self.llm_started is not None:
            timings["llm_total"] = round(self.llm_ms)
            if self.ttfb_ms is not None:
                timings["llm_ttfb"] = self.ttfb_ms
        return timings

    def _cost(self) -> float:
        return pricing.estimate_cost(self.model, self.input_tokens, self.output_tokens)

    def _metrics(self, timings: dict[str, int]) -> dict[str, Any]:
        return {
            "model": self.model,
            "input_tokens_est": self.input_tokens,
            "output_tokens_est": self.output_tokens,
            "cost_usd_est": self._cost(),
            "llm_ttfb_ms": timings.get("llm_ttfb"),
            "llm_total_ms": timings.get("llm_total"),
        }

    async def _store_reply(self, text: str, *, interrupted: bool = False) -> Message | None:
        timings = self._timings()
        return await asyncio.shield(
            sync_to_async(services.assistant_reply_store)(
                conversation=self.conversation,
                text=text,
                interrupted=interrupted,
                input_tokens=self.input_tokens,
                output_tokens=self.output_tokens,
                cost_usd=self._cost(),
                timings_ms=timings,
                store_message=bool(text),
            )
        )

    async def _finish(self, text: str) -> AsyncIterator[Event]:
        timings = self._timings()
        self.speaking = None
        self.finished = True  # set first: a cancel during the (shielded) write must not store twice
        message = await self._store_reply(text)
        yield Metrics(timings_ms=timings)
        yield Done(text=text, metrics=self._metrics(timings), message_id=str(message.pk) if message else "")

    async def store_interrupted(self) -> None:
        """Called when the consumer cancels: keep the words said so far, marked interrupted."""
        if self.finished:
            return
        self.finished = True
        text = "".join(self.speaking or [])
        if not text and not (self.input_tokens or self.output_tokens):
            return
        try:
            await self._store_reply(text, interrupted=True)
        except Exception:  # never mask the cancellation itself
            logger.exception("could not store the interrupted reply of %s", self.conversation.pk)

    # --- model calls -----------------------------------------------------------------------------
    async def _debug(self, phase: str, target: LLMTarget, items: list, tools: list) -> AsyncIterator[Event]:
        arguments = {"phase": phase, "payload": request_payload(target, items, tools)}
        await sync_to_async(services.message_append)(
            conversation=self.conversation,
            role=Message.Role.TOOL,
            content=json.dumps({"tool": history.DEBUG_TOOL_NAME, "arguments": arguments}, ensure_ascii=False),
            tool_name=history.DEBUG_TOOL_NAME,
            tool_kind=Message.ToolKind.CALL,
        )
        yield ToolCall(name=history.DEBUG_TOOL_NAME, arguments_json=json.dumps(arguments, ensure_ascii=False))

    async def _call_model(
        self, target: LLMTarget, items: list[dict[str, Any]], tools: list[dict[str, Any]], step: _Step
    ) -> AsyncIterator[Event]:
        """Stream one model call into `step`, yielding text deltas as they arrive."""
        self.model = target.model
        call_started = time.perf_counter()
        if self.llm_started is None:
            self.llm_started = call_started
        self.speaking = step.text
        try:
            with observe.model_call(target.model) as call:  # span, time to first token
                async with contextlib.aclosing(self._open_stream(target, items, tools)) as stream:
                    async for event in stream:
                        if type(event) is TextChunk:
                            self._mark_first_token(call)
                            step.text.append(event.text)
                            yield TextDelta(delta=event.text)
                        elif type(event) is FunctionCall:
                            self._mark_first_token(call)
                            step.calls.append(event)
                        elif type(event) is StreamEnd:
                            step.output_items = event.output_items
                            step.input_tokens, step.output_tokens = event.input_tokens, event.output_tokens
        finally:
            self.llm_ms += (time.perf_counter() - call_started) * 1000
        self._count_usage(target.model, items, step)

    def _open_stream(self, target: LLMTarget, items: list[dict[str, Any]], tools: list[dict[str, Any]]):
        """The first call may adopt a speculative stream (`TurnOptions.model_stream`); others call the model."""
        adopt, self.options.model_stream = self.options.model_stream, None
        stream = adopt(target, items, tools) if adopt is not None else None
        return stream if stream is not None else stream_model(target, items, tools)

    def _count_usage(self, model: str, items: list[dict[str, Any]], step: _Step) -> None:
        if step.input_tokens is not None:
            self.input_tokens += step.input_tokens
        else:
            texts = [str(i.get("content") or i.get("arguments") or i.get("output") or "") for i in items]
            self.input_tokens += pricing.estimate_items_tokens(texts, model)
        if step.output_tokens is not None:
            self.output_tokens += step.output_tokens
        else:
            said = "".join(step.text) + "".join(c.arguments for c in step.calls)
            self.output_tokens += pricing.estimate_text_tokens(said, model)

    # --- tools -----------------------------------------------------------------------------------
    async def _run_tool(
        self, call: FunctionCall, tools: ToolSet, bot: Bot, metadata: dict[str, Any], outcomes: list[ToolOutcome]
    ) -> AsyncIterator[Event]:
        yield ToolCall(name=call.name, arguments_json=call.arguments, call_id=call.call_id)
        args, problem = _parse_arguments(call.arguments)
        tool, reason = tools.find(call.name)
        name = tool.name if tool is not None else canonical_name(call.name)
        if args is None:
            outcome = _failure(problem)
        elif tool is None:
            outcome = _failure(
                f"Tool '{name}' is disabled for this bot."
                if reason == "disabled"
                else f"Unknown tool '{name}'. Use only the tools you were given."
            )
        else:
            wait = args.get("wait_reply")
            if isinstance(wait, str) and wait.strip() and getattr(tool, "announces_wait_reply", True):
                yield Interim(kind="wait", text=render_template(wait, {"meta": metadata}))
            outcome = None
            with observe.tool_call(tool) as observed:  # span (the HTTP target's host and status), time
                async with contextlib.aclosing(self._execute(tool, args, call, bot, metadata)) as running:
                    async for item in running:
                        if isinstance(item, ToolOutcome):
                            outcome = item
                            observed.ok = item.ok
                        else:
                            yield item
            assert outcome is not None
        outcomes.append(outcome)
        stored_arguments: Any = args if args is not None else call.arguments
        await asyncio.shield(
            sync_to_async(services.messages_append)(
                conversation=self.conversation,
                messages=[
                    {
                        "role": Message.Role.TOOL,
                        "tool_kind": Message.ToolKind.CALL,
                        "tool_name": name,
                        "tool_call_id": call.call_id,
                        "content": json.dumps({"tool": name, "arguments": stored_arguments}, ensure_ascii=False),
                    },
                    {
                        "role": Message.Role.TOOL,
                        "tool_kind": Message.ToolKind.RESULT,
                        "tool_name": name,
                        "tool_call_id": call.call_id,
                        "content": json.dumps(
                            {"tool": name, "result": outcome.result}, ensure_ascii=False, default=str
                        ),
                    },
                ],
            )
        )
        yield ToolResult(name=name, result=outcome.result, call_id=call.call_id, ok=outcome.ok)

    async def _execute(
        self, tool: Any, args: dict[str, Any], call: FunctionCall, bot: Bot, metadata: dict[str, Any]
    ) -> AsyncIterator[Event | ToolOutcome]:
        """Run the tool as a task and pass on the events it emits (progress) while it runs."""
        queue: asyncio.Queue[Event] = asyncio.Queue()

        async def emit(event: Event) -> None:
            await queue.put(event)

        ctx = ToolContext(
            conversation=self.conversation, bot=bot, metadata=dict(metadata), call_id=call.call_id, emit=emit
        )
        task = asyncio.ensure_future(tool.run(args, ctx))
        getter: asyncio.Future | None = None
        try:
            while not task.done():
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({task, getter}, return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    yield getter.result()
                else:
                    getter.cancel()
                getter = None
            while not queue.empty():
                yield queue.get_nowait()
            try:
                outcome = task.result()
            except Exception:
                logger.exception("tool %s failed", tool.name)
                outcome = _failure(f"Tool '{tool.name}' failed while running.")
            if not isinstance(outcome, ToolOutcome):
                outcome = ToolOutcome(result=outcome)
            yield outcome
        finally:
            if getter is not None:
                getter.cancel()
            if not task.done():
                task.cancel()

    # --- the loop --------------------------------------------------------------------------------
    async def run(self, user_text: str) -> AsyncIterator[Event]:
        prepared = await sync_to_async(_prepare)(
            self.conversation, user_text, dict(self.options.user_message_fields), with_tools=True
        )
        if prepared.error is not None or prepared.target is None:
            error = prepared.error or LLMError("No model configured.", "no_key")
            yield Error(message=error.message, code=error.code)
            return
        bot, target, tools = prepared.bot, prepared.target, prepared.tools
        assert tools is not None
        metadata = prepared.metadata
        self.conversation.metadata = metadata
        conversation_items = list(prepared.history)
        definitions = tools.definitions()
        max_steps = int(settings.VOICEBOT_MAX_TOOL_STEPS)
        budget = int(settings.VOICEBOT_HISTORY_TOKEN_BUDGET)
        tool_rounds = 0
        while True:
            offer = definitions if tool_rounds < max_steps else []
            system = history.system_items(bot, metadata)
            if not offer and tool_rounds:
                system.append({"role": "system", "content": history.TOOL_LIMIT_INSTRUCTION})
            items = system + history.trim_to_budget(system, conversation_items, budget)
            if self.options.debug:
                phase = "chat_llm" if tool_rounds == 0 else "tool_followup_llm"
                async for event in self._debug(phase, target, items, offer):
                    yield event
            yield Status(stage="llm")
            step = _Step()
            async with contextlib.aclosing(self._call_model(target, items, offer, step)) as events:
                async for event in events:
                    yield event
            text = "".join(step.text)
            if not step.calls or not offer:
                async for event in self._finish(text):
                    yield event
                return
            # Text said before a tool call is part of the conversation: store it (§15.2 item 12).
            self.speaking = None
            if text:
                await asyncio.shield(
                    sync_to_async(services.message_append)(
                        conversation=self.conversation, role=Message.Role.ASSISTANT, content=text
                    )
                )
            tool_rounds += 1
            outcomes: list[ToolOutcome] = []
            outputs: list[dict[str, Any]] = []
            for call in step.calls:
                async with contextlib.aclosing(self._run_tool(call, tools, bot, metadata, outcomes)) as events:
                    async for event in events:
                        yield event
                outcome = outcomes[-1]
                if outcome.metadata is not None:
                    metadata = outcome.metadata
                    self.conversation.metadata = metadata
                outputs.append(
                    {
                        "type": "function_call_output",
                        "call_id": call.call_id,
                        "output": history.model_tool_output(outcome.result),
                    }
                )
            reply = outcomes[-1].reply
            if all(o.ok for o in outcomes) and isinstance(reply, str) and reply.strip():
                # next_reply / static reply: said as the answer, no further model call.
                self.speaking = [reply]
                yield TextDelta(delta=reply)
                async for event in self._finish(reply):
                    yield event
                return
            conversation_items += step.output_items + outputs

    async def greet(self) -> AsyncIterator[Event]:
        prepared = await sync_to_async(_prepare)(self.conversation, None, {}, with_tools=False)
        bot, metadata = prepared.bot, prepared.metadata
        self.conversation.metadata = metadata
        static = (bot.start_message_text or "").strip()
        if bot.start_message_mode == Bot.StartMode.STATIC and static:
            text = render_template(static, {"meta": metadata})
            self.speaking = [text]
            yield TextDelta(delta=text)
            async for event in self._finish(text):
                yield event
            return
        if prepared.error is not None or prepared.target is None:
            error = prepared.error or LLMError("No model configured.", "no_key")
            yield Error(message=error.message, code=error.code)
            return
        target = prepared.target
        items = history.system_items(bot, metadata)[:1] + [{"role": "user", "content": history.GREETING_INSTRUCTION}]
        if self.options.debug:
            async for event in self._debug("greeting_llm", target, items, []):
                yield event
        yield Status(stage="llm")
        step = _Step()
        async with contextlib.aclosing(self._call_model(target, items, [], step)) as events:
            async for event in events:
                yield event
        text = "".join(step.text).strip()
        if not text:
            text = GREETING_FALLBACK
            self.speaking = [text]
            yield TextDelta(delta=text)
        async for event in self._finish(text):
            yield event


@dataclass
class _Step:
    text: list[str] = field(default_factory=list)
    calls: list[FunctionCall] = field(default_factory=list)
    output_items: list[dict[str, Any]] = field(default_factory=list)
    input_tokens: int | None = None
    output_tokens: int | None = None


async def _guarded(turn: _Turn, events: AsyncIterator[Event]) -> AsyncIterator[Event]:
    """Error, cancellation and the conversation's turn lock around a turn. Being the outermost
    generator matters: an `aclose()` from the consumer arrives here and closes the inner generators in
    order. The lock is released before the final Done/Error is handed out, so a client that answers
    `done` at once is not refused as busy."""
    token = turn.options.lock_token
    held = token is None  # a session that holds the lock releases it itself
    if held:
        token = await turn_lock.acquire(turn.conversation.pk)
        if token is None:
            await events.aclose()
            yield Error(message=turn_lock.BUSY_MESSAGE, code="busy")
            return

    async def release() -> None:
        nonlocal held
        if held:
            held = False
            await turn_lock.release(turn.conversation.pk, token)

    try:
        async with contextlib.aclosing(events) as stream:
            async for event in stream:
                if isinstance(event, Done):
                    await release()
                yield event
    except LLMError as exc:
        await turn.store_interrupted()
        await release()
        yield Error(message=exc.message, code=exc.code)
    except (GeneratorExit, asyncio.CancelledError):
        await turn.store_interrupted()
        raise
    except Conversation.DoesNotExist:
        await release()
        yield Error(message="Conversation not found", code="not_found")
    except Exception:
        logger.exception("turn failed in conversation %s", turn.conversation.pk)
        await turn.store_interrupted()
        await release()
        yield Error(message=INTERNAL_ERROR, code="internal_error")
    finally:
        await release()


def run_turn(conversation: Conversation, user_text: str, *, options: TurnOptions | None = None) -> AsyncIterator[Event]:
    """Run one user turn. Yields Status, TextDelta, ToolCall, Interim, ToolResult, then Metrics and
    exactly one Done; or an Error (and no Done) when the turn cannot be answered.

    Consume it with `async with contextlib.aclosing(run_turn(...)) as events:` (or cancel the task):
    closing it early stores the words said so far with `interrupted=True`.
    """
    turn = _Turn(conversation, options or TurnOptions())
    return _guarded(turn, turn.run(user_text))


def run_greeting(conversation: Conversation, *, options: TurnOptions | None = None) -> AsyncIterator[Event]:
    """The conversation's opening message (static text or model-written), stored as an assistant message."""
    turn = _Turn(conversation, options or TurnOptions())
    return _guarded(turn, turn.greet())
