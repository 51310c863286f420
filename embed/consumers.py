"""The public chat socket a third-party page's widget talks to.

`WS /public/v1/ws/bots/<bot_id>/chat?key=…&user_conversation_id=…[&user_token=…]`, the reference's
protocol (docs/embed.md): `start`, `chat`, plus `history`. The consumer parses (bounded:
`conversations.frames`), calls the services in `embed.services` (checks, limits) and the ownership
rule in `embed.ownership` (which conversation this visitor may continue), and translates engine
events; it holds no rules.
A turn runs in its own task so the socket keeps answering (busy, rate limit, bad frames) meanwhile;
every failure is an `error` event, and only the reference's fatal cases close the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from conversations import frames
from conversations.engine import events as ev
from embed import limits, ownership, services

log = logging.getLogger(__name__)

HIDDEN_EVENTS = (ev.ToolCall, ev.ToolResult, ev.Audio, ev.Transcript, ev.Metrics, ev.ConversationStarted)
MAX_REQ_ID_CHARS = 128


class PublicChatConsumer(AsyncWebsocketConsumer):
    key = None
    bot = None
    external_id = ""
    conversation = None
    turn_task: asyncio.Task | None = None
    turn_active = False  # cleared just before a turn's final done/error goes out, so replies to it are not "busy"
    closed = False

    # --- connection ----------------------------------------------------------------------------
    async def connect(self) -> None:
        await self.accept()
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        self.secret = (query.get("key") or [""])[0]
        self.query_user_token = (query.get("user_token") or [None])[0]
        origin = dict(self.scope.get("headers") or []).get(b"origin", b"").decode("latin-1").strip() or None
        try:
            self.key, self.bot, self.external_id = await database_sync_to_async(services.public_connect)(
                secret=self.secret,
                user_conversation_id=(query.get("user_conversation_id") or [""])[0],
                origin=origin,
                bot_id=self.scope["url_route"]["kwargs"]["bot_id"],
            )
        except services.Refusal as refusal:
            await self._refuse(refusal, None)

    async def disconnect(self, code: int) -> None:
        self.closed = True
        if self.turn_task is not None and not self.turn_task.done():
            self.turn_task.cancel()  # the engine stores what was said, marked interrupted
            try:
                await self.turn_task
            except (asyncio.CancelledError, Exception):
                pass

    # --- incoming frames -----------------------------------------------------------------------
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.key is None or self.closed:
            return
        if text_data is None:
            await self._error("Binary frames are not supported; send JSON text", None, code="bad_request")
            return
        try:
            message = frames.parse_frame(text_data, max_bytes=settings.VOICEBOT_EMBED_MAX_FRAME_BYTES)
        except frames.FrameError as exc:
            await self._error(exc.message, None, code=exc.code)
            return
        if not isinstance(message, dict):
            await self._error("Invalid JSON", None, code="bad_request")
            return
        req_id = message.get("req_id")
        if req_id is None or req_id == "":
            await self._error("Missing req_id", None, code="bad_request")
            return
        if not isinstance(req_id, (str, int)) or isinstance(req_id, bool) or len(str(req_id)) > MAX_REQ_ID_CHARS:
            await self._error("Invalid req_id", None, code="bad_request")
            return
        kind = message.get("type")
        handler = {"start": self._start, "chat": self._chat, "history": self._history}.get(
            kind if isinstance(kind, str) else ""
        )
        if handler is None:
            await self._error(f"Unknown message type: {kind}", req_id, code="bad_request")
            return
        try:
            self.key = await database_sync_to_async(services.public_admit)(
                secret=self.secret,
                bot=self.bot,
                external_id=self.external_id,
                conversation_id=self.conversation.pk if self.conversation is not None else None,
            )
            await handler(req_id, message)
        except services.Refusal as refusal:
            await self._refuse(refusal, req_id)
        except Exception:
            log.exception("public socket: %s failed", kind)
            await self._error("Internal error; please try again", req_id, code="internal")

    # --- message types -------------------------------------------------------------------------
    async def _start(self, req_id: Any, message: dict) -> None:
        if self._busy():
            await self._error("Another request is already in progress", req_id, code="busy")
            return
        result = await database_sync_to_async(services.public_start)(
            key=self.key,
            bot=self.bot,
            external_id=self.external_id,
            user_token=_text(message.get("user_token")) or self.query_user_token,
            resume_token=_text(message.get("resume_token")),
        )
        self.conversation = result.conversation
        await self._send_conversation(req_id, resume_token=result.resume_token)
        if result.history is not None:
            await self._send({"type": "history", "messages": result.history}, req_id)
        if result.greet and await self._lock():
            from conversations.engine import run_greeting

            self._spawn(req_id, run_greeting(self.conversation))
            return
        await self._send({"type": "status", "stage": "llm"}, req_id)
        await self._send({"type": "done", "text": "", "metrics": {}}, req_id)
        await self._send({"type": "status", "stage": "idle"}, req_id)

    async def _chat(self, req_id: Any, message: dict) -> None:
        text = message.get("text")
        text = text.strip() if isinstance(text, str) else ""
        if not text:
            await self._error("Empty text", req_id, code="bad_request")
            return
        if len(text) > settings.VOICEBOT_EMBED_MAX_MESSAGE_CHARS:
            await self._error(
                f"Message too long (max {settings.VOICEBOT_EMBED_MAX_MESSAGE_CHARS} characters)",
                req_id,
                code="too_large",
            )
            return
        if self._busy():
            await self._error("Another request is already in progress", req_id, code="busy")
            return
        resume_token = None
        if self.conversation is None:  # `chat` before `start`: admitted the same way
            admission = await database_sync_to_async(ownership.visitor_admit)(
                bot=self.bot,
                key=self.key,
                external_id=self.external_id,
                user_token=_text(message.get("user_token")) or self.query_user_token,
                browser_secret=_text(message.get("resume_token")),
            )
            self.conversation, resume_token = admission.conversation, admission.browser_secret_to_issue
        await self._send_conversation(req_id, resume_token=resume_token)
        if not await self._lock():
            await self._error("Another request is already in progress", req_id, code="busy")
            return
        from conversations.engine import run_turn

        self._spawn(req_id, run_turn(self.conversation, text))

    async def _history(self, req_id: Any, message: dict) -> None:
        conversation, messages = await database_sync_to_async(services.public_history)(
            key=self.key,
            bot=self.bot,
            external_id=self.external_id,
            conversation=self.conversation,
            user_token=_text(message.get("user_token")) or self.query_user_token,
            resume_token=_text(message.get("resume_token")),
        )
        if self.conversation is None:
            self.conversation = conversation
        await self._send({"type": "history", "messages": messages}, req_id)

    # --- turns ---------------------------------------------------------------------------------
    def _busy(self) -> bool:
        return self.turn_active

    async def _lock(self) -> bool:
        return await limits.turn_lock_acquire_async(
            str(self.conversation.pk), seconds=settings.VOICEBOT_EMBED_TURN_LOCK_SECONDS
        )

    def _spawn(self, req_id: Any, events) -> None:
        self.turn_active = True
        self.turn_task = asyncio.create_task(self._pump(req_id, events, str(self.conversation.pk)))

    async def _pump(self, req_id: Any, events, conversation_id: str) -> None:
        """Forward one turn's events; tool calls and results stay on the server. The turn is over
        (socket free, lock released) before its final `done`/`error` is sent."""
        last_stage = None
        ended = False

        async def end_turn() -> None:
            nonlocal ended
            if not ended:
                ended = True
                self.turn_active = False
                await limits.turn_lock_release_async(conversation_id)

        try:
            async with contextlib.aclosing(events) as stream:
                async for event in stream:
                    if isinstance(event, HIDDEN_EVENTS):
                        continue
                    if isinstance(event, ev.Status):
                        last_stage = event.stage
                    if isinstance(event, (ev.Done, ev.Error)):
                        await end_turn()
                    await self._send(ev.to_wire(event), req_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("public socket: turn failed")
            await end_turn()
            await self._error("The bot could not answer; please try again", req_id, code="internal")
        finally:
            await end_turn()
        if last_stage != "idle":
            await self._send({"type": "status", "stage": "idle"}, req_id)

    # --- sending -------------------------------------------------------------------------------
    async def _send_conversation(self, req_id: Any, *, resume_token: str | None = None) -> None:
        cid = str(self.conversation.pk)
        event = {"type": "conversation", "conversation_id": cid, "id": cid}
        if resume_token:
            event["resume_token"] = resume_token
        await self._send(event, req_id)

    async def _send(self, event: dict, req_id: Any) -> None:
        if self.closed:
            return
        await self.send(text_data=json.dumps({**event, "req_id": req_id}, ensure_ascii=False))

    async def _error(self, message: str, req_id: Any, *, code: str) -> None:
        await self._send({"type": "error", "error": message, "code": code}, req_id)

    async def _refuse(self, refusal: services.Refusal, req_id: Any) -> None:
        await self._error(refusal.message, req_id, code=refusal.code)
        if refusal.close_code is not None:
            self.closed = True
            self.key = None
            await self.close(code=refusal.close_code)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
