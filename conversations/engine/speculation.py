"""A model call started before the user's words are final, adopted by the turn only if they were.

Voice turns know the transcript early: at the first short pause the ASR has (very likely) the final
text, but the user may go on. `SpeculativeReply` starts the turn's first model call on that text
**without touching the database** (no user message, no reply, no usage row) and buffers what the
model streams. When the turn then runs on the confirmed transcript, `run_turn` asks it (through
`TurnOptions.model_stream`) for a stream for its first model call; it hands over its buffered and
live stream only when the request the turn built is the one it sent (same key, server, model, tools
and input items, the system prompt's clock line aside), else the turn calls the model itself. A
speculation that is not adopted is discarded: its task is cancelled and its text was never an event,
so it is never spoken and never stored. The price is the discarded call's tokens.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings

from conversations.engine import history
from conversations.engine.llm import LLMError, LLMTarget, StreamEnd, StreamEvent, request_payload, resolve_target
from conversations.engine.tools import resolve_tools

logger = logging.getLogger(__name__)
_CLOCK = re.compile(r"^Current Date Time\(UTC\): [^\n]*")
_DONE = object()


def _comparable(target: LLMTarget, items: list[dict[str, Any]], tools: list[dict[str, Any]]) -> tuple:
    payload = copy.deepcopy(request_payload(target, items, tools))
    for item in payload.get("input") or payload.get("messages") or []:
        if item.get("role") == "system" and isinstance(item.get("content"), str):
            item["content"] = _CLOCK.sub("", item["content"], count=1)
    return (target.api_key, target.base_url, target.api_style, payload)


def _first_request(
    conversation_id: Any, user_text: str
) -> tuple[LLMTarget, list[dict[str, Any]], list[dict[str, Any]]]:
    """What the turn's first model call will send if `user_text` is stored next (reads only)."""
    from conversations.engine.turn import HISTORY_ROW_LIMIT
    from conversations.models import Conversation, Message

    conversation = Conversation.objects.select_related("bot", "bot__openai_key").get(pk=conversation_id)
    bot = conversation.bot
    target = resolve_target(bot)
    rows = list(
        Message.objects.filter(conversation_id=conversation.pk)
        .order_by("-created_at")
        .only("role", "content", "tool_name", "tool_kind", "tool_call_id", "created_at")[: HISTORY_ROW_LIMIT - 1]
    )
    rows.reverse()
    rows.append(Message(conversation=conversation, role=Message.Role.USER, content=user_text))  # never saved
    metadata = conversation.metadata if isinstance(conversation.metadata, dict) else {}
    offer = resolve_tools(bot).definitions() if int(settings.VOICEBOT_MAX_TOOL_STEPS) > 0 else []
    system = history.system_items(bot, metadata)
    items = system + history.trim_to_budget(
        system, history.history_items(rows), int(settings.VOICEBOT_HISTORY_TOKEN_BUDGET)
    )
    return target, items, offer


class SpeculativeReply:
    """One early model call on `user_text` for `conversation_id` (see the module docstring)."""

    def __init__(self, conversation_id: Any, user_text: str) -> None:
        self.conversation_id = conversation_id
        self.user_text = user_text
        self.adopted = False
        self._key: tuple | None = None
        self._events: list[StreamEvent | BaseException | object] = []
        self._changed = asyncio.Event()
        self._task: asyncio.Task | None = None

    def start(self) -> SpeculativeReply:
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        from conversations.engine.llm import stream_model

        try:
            target, items, tools = await sync_to_async(_first_request)(self.conversation_id, self.user_text)
            self._key = _comparable(target, items, tools)
            async with contextlib.aclosing(stream_model(target, items, tools)) as stream:
                async for event in stream:
                    self._push(event)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # LLMError, a missing conversation: the adopting turn sees it (or not)
            self._push(exc)
        finally:
            self._push(_DONE)

    def _push(self, item: Any) -> None:
        self._events.append(item)
        self._changed.set()

    def matches(self, target: LLMTarget, items: list[dict[str, Any]], tools: list[dict[str, Any]]) -> bool:
        return self._key is not None and self._key == _comparable(target, items, tools)

    def model_stream(
        self, target: LLMTarget, items: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> AsyncIterator[StreamEvent] | None:
        """`TurnOptions.model_stream`: this call's stream when the turn's request is the one it sent."""
        if self.adopted or self._task is None or not self.matches(target, items, tools):
            return None
        if any(isinstance(e, BaseException) for e in self._events):
            return None  # it failed: let the turn make (and report) its own call
        self.adopted = True
        return self._replay()

    async def _replay(self) -> AsyncIterator[StreamEvent]:
        index = 0
        try:
            while True:
                while index < len(self._events):
                    item = self._events[index]
                    index += 1
                    if item is _DONE:
                        return
                    if isinstance(item, BaseException):
                        raise item if isinstance(item, LLMError) else LLMError(str(item))
                    yield item  # type: ignore[misc]
                    if isinstance(item, StreamEnd):
                        return
                self._changed.clear()
                if index < len(self._events):
                    continue
                await self._changed.wait()
        finally:
            if self._task is not None and not self._task.done():
                self._task.cancel()

    async def ready(self) -> None:
        """Wait until the request is built (tests; the first event may still be on its way)."""
        while self._key is None and self._task is not None and not self._task.done():
            await asyncio.sleep(0.005)

    async def discard(self) -> None:
        """Drop it: cancel the call (if not adopted). Nothing was stored or shown."""
        if self.adopted or self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task
