"""The public chat socket a third-party page's widget talks to: a thin adapter on the conversation session.

`WS /public/v1/ws/bots/<bot_id>/chat?key=…[&user_conversation_id=…][&user_token=…]`, the reference's
protocol (docs/embed.md): `start`, `chat`, plus `history`. The consumer parses (bounded, shared with the
talk socket: `conversations.frames.parse_request`), checks the key, origin and limits
(`embed.services`), admits the visitor to the conversation they can prove is theirs
(`embed.ownership`), and hands turns to `conversations.session`, which queues them in order, runs them
and writes their events (tool calls, audio and metrics stay on the server: `public_policy`). Every
failure is an `error` event; only the reference's fatal cases close the socket.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs

import orjson
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from conversations import frames
from conversations.engine import run_greeting, run_turn
from conversations.engine.events import Done, Error, Status, to_wire
from conversations.session import ConversationSession, public_policy
from embed import ownership, services
from observability import observe

log = logging.getLogger(__name__)
KINDS = ("start", "chat", "history")


class PublicChatConsumer(AsyncWebsocketConsumer):
    key = None
    grant: services.KeyGrant | None = None
    bot = None
    external_id = ""
    conversation = None
    session: ConversationSession | None = None
    closed = False
    counted: str | None = None  # the open-sockets gauge's kind, once accepted

    # --- connection ----------------------------------------------------------------------------
    async def connect(self) -> None:
        await self.accept()
        self.counted = observe.socket_opened("widget")
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        self.secret = (query.get("key") or [""])[0]
        self.query_user_token = (query.get("user_token") or [None])[0]
        origin = dict(self.scope.get("headers") or []).get(b"origin", b"").decode("latin-1").strip() or None
        try:
            self.grant, self.bot, self.external_id = await database_sync_to_async(services.public_connect)(
                secret=self.secret,
                user_conversation_id=(query.get("user_conversation_id") or [""])[0],
                origin=origin,
                bot_id=self.scope["url_route"]["kwargs"]["bot_id"],
            )
        except services.Refusal as refusal:
            await self._refuse(refusal, None)
            return
        self.key = self.grant.key
        self.session = ConversationSession(self._emit, policy=public_policy(self.key), channel="widget")

    async def disconnect(self, code: int) -> None:
        self.closed = True
        observe.socket_closed(self.counted)
        self.counted = None
        if self.session is not None:
            await self.session.close()  # a running turn stores what was said, marked interrupted

    # --- incoming frames -----------------------------------------------------------------------
    async def dispatch(self, message: dict) -> None:
        # Channels runs close_old_connections before every handler: a hop to the one database thread,
        # so each frame queued behind every turn's queries before it was even parsed. This socket's
        # database work goes through database_sync_to_async, which closes stale connections itself
        # (connect, `start`, `history`, the key's re-check), so text frames skip that queue.
        if message.get("type") == "websocket.receive":
            await self.websocket_receive(message)
            return
        await super().dispatch(message)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.key is None or self.closed or self.session is None:
            return
        try:
            kind, req_id, message = frames.parse_request(
                text_data, kinds=KINDS, max_bytes=settings.VOICEBOT_EMBED_MAX_FRAME_BYTES
            )
        except frames.FrameError as exc:
            await self._error(exc.message, exc.req_id, code=exc.code)
            return
        handler = {"start": self._start, "chat": self._chat, "history": self._history}[kind]
        try:
            # the key verified at connect; re-read only when revoked or changed (services.KeyGrant)
            self.key = await services.public_admit_async(
                self.grant,
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
            await self.session.send({"type": "history", "messages": result.history}, req_id)
        if result.greet:
            conversation = self.conversation
            self.session.submit(conversation.pk, req_id, lambda options: run_greeting(conversation, options=options))
            return
        for event in (Status("llm"), Done(text=""), Status("idle")):  # the reference's answer to a returning `start`
            await self.session.send_event(event, req_id)

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
        conversation = self.conversation
        self.session.submit(conversation.pk, req_id, lambda options: run_turn(conversation, text, options=options))

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
        await self.session.send({"type": "history", "messages": messages}, req_id)

    # --- sending -------------------------------------------------------------------------------
    async def _send_conversation(self, req_id: Any, *, resume_token: str | None = None) -> None:
        cid = str(self.conversation.pk)
        event = {"type": "conversation", "conversation_id": cid, "id": cid}
        if resume_token:
            event["resume_token"] = resume_token
        await self._emit({**event, "req_id": req_id})

    async def _emit(self, payload: dict) -> None:
        if not self.closed:
            # orjson: the same JSON (UTF-8, not ASCII-escaped) at a fraction of json.dumps's CPU
            await self.send(text_data=orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS).decode())

    async def _error(self, message: str, req_id: Any, *, code: str) -> None:
        await self._emit({**to_wire(Error(message, code=code)), "req_id": req_id})

    async def _refuse(self, refusal: services.Refusal, req_id: Any) -> None:
        await self._error(refusal.message, req_id, code=refusal.code)
        if refusal.close_code is not None:
            self.closed = True
            self.key = None
            await self.close(code=refusal.close_code)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
