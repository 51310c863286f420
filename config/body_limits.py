"""Every HTTP request body is bounded in size and arrival time before anything parses it.

An ASGI middleware around the HTTP side of `config.asgi` (no app imports, so it can sit under every
route). It works because the server streams the body to the application with flow control (uvicorn
stops reading the socket while the last chunk has not been taken), so:

- a request whose `Content-Length` is over the path's limit is answered 413 before a byte of its body
  is read, and the application never runs;
- a body without a length (chunked) is counted as it streams and answered 413 as soon as it passes
  the limit; the application is told the client went away (Django then drops the request);
- a body that has not fully arrived within the path's time budget (slow-loris) is answered 408.

Answers are JSON `{"detail": "..."}` with `Connection: close`. Per-path limits: a route named in
`upload_routes` (talk/stream's WAV upload) gets the larger upload limit, but only when the request
carries credentials (the session cookie or an Authorization header); an anonymous request there gets
the default limit, since the view would refuse it anyway. Django's own DATA_UPLOAD_MAX_MEMORY_SIZE and
FILE_UPLOAD_MAX_MEMORY_SIZE still apply to what passes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
RouteName = Callable[[str], str | None]


@dataclass(frozen=True)
class BodyLimit:
    max_bytes: int
    timeout_s: float


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value
    return None


async def send_json(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def too_large_detail(limit: BodyLimit) -> str:
    return f"Request body too large (at most {limit.max_bytes} bytes here)."


def too_slow_detail(limit: BodyLimit) -> str:
    return f"Request body did not arrive within {limit.timeout_s:g} seconds."


class RequestBodyLimitMiddleware:
    """Wrap an HTTP ASGI app: see the module docstring. `route_name(path)` names the route a path
    resolves to (or None); it is only called when `upload_routes` is not empty."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        default: BodyLimit,
        upload: BodyLimit | None = None,
        upload_routes: Collection[str] = (),
        route_name: RouteName | None = None,
        session_cookie_name: str = "sessionid",
    ) -> None:
        self.app = app
        self.default = default
        self.upload = upload
        self.upload_routes = frozenset(upload_routes)
        self.route_name = route_name
        self.session_cookie = session_cookie_name.encode() + b"="

    def limit_for(self, scope: Scope) -> BodyLimit:
        if self.upload is None or not self.upload_routes or self.route_name is None:
            return self.default
        if not self._has_credentials(scope):
            return self.default
        if self.route_name(scope.get("path", "")) in self.upload_routes:
            return self.upload
        return self.default

    def _has_credentials(self, scope: Scope) -> bool:
        if _header(scope, b"authorization"):
            return True
        cookie = _header(scope, b"cookie") or b""
        return any(part.strip().startswith(self.session_cookie) for part in cookie.split(b";"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = _header(scope, b"content-length")
        if declared is not None:
            text = declared.strip()
            if not text.isdigit():
                await send_json(send, 400, "Invalid Content-Length header.")
                return
            if int(text) > limit.max_bytes:
                await send_json(send, 413, too_large_detail(limit))
                return
        guard = _BodyGuard(receive, send, limit)
        await self.app(scope, guard.receive, guard.send)


class _BodyGuard:
    """The app's view of receive/send for one request: counts the body and watches the clock."""

    def __init__(self, receive: Receive, send: Send, limit: BodyLimit) -> None:
        self._receive = receive
        self._send = send
        self.limit = limit
        self.deadline = asyncio.get_running_loop().time() + limit.timeout_s
        self.received = 0
        self.body_done = False
        self.refused = False
        self.response_started = False

    async def receive(self) -> Message:
        if self.refused:
            return {"type": "http.disconnect"}
        if self.body_done:  # after the body the app only waits for a disconnect: no budget
            return await self._receive()
        remaining = self.deadline - asyncio.get_running_loop().time()
        try:
            async with asyncio.timeout(max(remaining, 0.0)):
                message = await self._receive()
        except TimeoutError:
            await self._refuse(408, too_slow_detail(self.limit))
            return {"type": "http.disconnect"}
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit.max_bytes:
                await self._refuse(413, too_large_detail(self.limit))
                return {"type": "http.disconnect"}
            if not message.get("more_body", False):
                self.body_done = True
        return message

    async def send(self, message: Message) -> None:
        if self.refused:  # we answered for the app; whatever it says now goes nowhere
            return
        if message["type"] == "http.response.start":
            self.response_started = True
        await self._send(message)

    async def _refuse(self, status: int, detail: str) -> None:
        self.refused = True
        if not self.response_started:
            await send_json(self._send, status, detail)
