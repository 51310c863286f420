"""Token authentication for the Studio websockets, for clients that are not browsers (scripts, apps).

A DRF token (the same as for the REST API) is presented either in the `Authorization: Token <key>`
header or as a `Sec-WebSocket-Protocol` entry `token.<key>` (browsers cannot set headers on a
websocket; offer `["voicebot", "token.<key>"]` and the server selects `voicebot`, never echoing the
token). A valid token sets `scope["user"]` to the token's user and `scope["auth_method"]` to
`"token"`; an invalid one refuses the handshake (it never falls back to the session cookie). The token
is removed from the scope before the consumer runs and is never logged.

The Origin rule stays for browsers (`config.origin.ExactOriginValidator`, inside this middleware): a
request with a valid token and **no** Origin header is a script client and passes; a request that
sends an Origin must match it exactly, token or not, so a web page cannot ride a token either.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.security.websocket import WebsocketDenier

SUBPROTOCOL_PREFIX = "token."
SELECTED_SUBPROTOCOL = "voicebot"
MAX_TOKEN_CHARS = 128


def presented_token(scope: dict[str, Any]) -> tuple[str | None, list[str]]:
    """(the token from the Authorization header or a `token.<key>` subprotocol, the other subprotocols)."""
    key = None
    for name, value in scope.get("headers") or []:
        if name.lower() == b"authorization":
            scheme, _, rest = value.decode("latin-1").strip().partition(" ")
            if scheme.lower() == "token" and rest.strip():
                key = rest.strip()
    others = []
    for protocol in scope.get("subprotocols") or []:
        if protocol.startswith(SUBPROTOCOL_PREFIX) and len(protocol) > len(SUBPROTOCOL_PREFIX):
            key = key or protocol[len(SUBPROTOCOL_PREFIX) :]
        else:
            others.append(protocol)
    return key, others


def token_user(key: str) -> Any | None:
    """The active user a DRF token belongs to, or None."""
    from rest_framework.authtoken.models import Token

    if not key or len(key) > MAX_TOKEN_CHARS:
        return None
    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return None
    return token.user


class TokenAuthMiddleware:
    """ASGI wrapper for a websocket route: authenticate a presented token (see the module docstring)."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] != "websocket":
            return await self.application(scope, receive, send)
        key, others = presented_token(scope)
        if key is None:
            return await self.application(scope, receive, send)  # a browser: its session cookie decides
        user = await database_sync_to_async(token_user)(key)
        if user is None:
            return await WebsocketDenier()(scope, receive, send)
        headers = [(name, value) for name, value in scope.get("headers") or [] if name.lower() != b"authorization"]
        scope = {**scope, "user": user, "auth_method": "token", "headers": headers, "subprotocols": others}
        selected = SELECTED_SUBPROTOCOL if SELECTED_SUBPROTOCOL in others else None

        async def send_selecting_subprotocol(message: dict[str, Any]) -> None:
            if message.get("type") == "websocket.accept" and selected and not message.get("subprotocol"):
                message = {**message, "subprotocol": selected}
            await send(message)

        return await self.application(scope, receive, send_selecting_subprotocol)
