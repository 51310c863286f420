"""The HTTP clients the OpenAI SDK uses: they refuse cloud-metadata and link-local peers on connect.

A provider key's `base_url` is checked when the key is saved (`bots.services.provider_key_create`),
but a name can be re-pointed after that (DNS rebinding) and the SDK follows redirects. So every
connection these clients open is checked once the socket is connected, on the address it actually
reached, before a byte of the request (and its API key) is sent: httpcore reports each new TCP
connection to the request's `trace` extension, and raising from `connect_tcp.complete` closes and
abandons that connection. Loopback and private peers stay allowed (Ollama, vLLM on the LAN); the rule
is `bots.network_policy.provider_peer_allowed`, the classification the integrations egress uses too.

Behind an HTTP(S)_PROXY from the environment the peer is the proxy, so only the save-time check of the
base URL applies to where the proxy goes.

Two transports keep that rule: httpx/httpcore (`guarded_async_http_client`, `guarded_sync_http_client`,
through the request's `trace` extension) and aiohttp (`guarded_aiohttp_client`, through its TCP
connector), which the engine's SDK clients use (`conversations.engine.llm.client_for`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import httpx2
import openai
from openai._vendor.httpx_aiohttp import Httpx2AiohttpClient
from openai._vendor.httpx_aiohttp.transport import AiohttpTransport

from bots.network_policy import PROVIDER_BLOCKED_MESSAGE, provider_peer_allowed

_CONNECTED = "connection.connect_tcp.complete"


class ProviderAddressBlocked(openai.APIConnectionError):
    """The model server's address is refused. An OpenAIError, so the SDK neither retries nor wraps it."""

    def __init__(self, request: httpx2.Request) -> None:
        super().__init__(message=PROVIDER_BLOCKED_MESSAGE, request=request)


def _peer_allowed(stream: Any) -> bool:
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    return bool(peer) and provider_peer_allowed(str(peer[0]))


def _async_trace(request: httpx2.Request) -> Callable[[str, dict[str, Any]], Awaitable[None]]:
    previous = request.extensions.get("trace")

    async def trace(event: str, info: dict[str, Any]) -> None:
        if previous is not None:
            await previous(event, info)
        if event == _CONNECTED and not _peer_allowed(info.get("return_value")):
            stream = info.get("return_value")
            if stream is not None:
                await stream.aclose()
            raise ProviderAddressBlocked(request)

    return trace


def _sync_trace(request: httpx2.Request) -> Callable[[str, dict[str, Any]], None]:
    previous = request.extensions.get("trace")

    def trace(event: str, info: dict[str, Any]) -> None:
        if previous is not None:
            previous(event, info)
        if event == _CONNECTED and not _peer_allowed(info.get("return_value")):
            stream = info.get("return_value")
            if stream is not None:
                stream.close()
            raise ProviderAddressBlocked(request)

    return trace


async def _check_async(request: httpx2.Request) -> None:
    request.extensions = {**request.extensions, "trace": _async_trace(request)}


def _check_sync(request: httpx2.Request) -> None:
    request.extensions = {**request.extensions, "trace": _sync_trace(request)}


def guarded_async_http_client() -> httpx2.AsyncClient:
    """The SDK's default async client (its timeouts, limits, redirects) with the peer check."""
    return openai.DefaultAsyncHttpxClient(event_hooks={"request": [_check_async], "response": []})


def guarded_sync_http_client() -> httpx2.Client:
    """The same for the synchronous SDK client (`openai.OpenAI(http_client=...)`)."""
    return openai.DefaultHttpxClient(event_hooks={"request": [_check_sync], "response": []})


# --- the engine's transport: aiohttp under the SDK ---------------------------------------------------
# httpcore's pool checks every pooled connection for expiry on each request (a getpeername syscall
# apiece), so with hundreds of concurrent streams each new request cost O(connections): ~12% of the
# server's CPU in the widget benchmark (docs/performance.md). aiohttp's connector takes a free
# connection per host from a queue. The same rule holds there: the connector checks the address each
# new connection actually reached, after connect and before the request is written.


class _GuardedConnector(aiohttp.TCPConnector):
    """A TCP connector that refuses a connection whose peer the policy refuses (closed at once)."""

    def __init__(self, *, peer_allowed: Callable[[str], bool] = provider_peer_allowed, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._peer_allowed = peer_allowed

    async def _wrap_create_connection(self, *args: Any, req: Any, **kwargs: Any) -> tuple[Any, Any]:
        transport, protocol = await super()._wrap_create_connection(*args, req=req, **kwargs)
        peer = transport.get_extra_info("peername")
        if not peer or not self._peer_allowed(str(peer[0])):
            transport.close()
            raise ProviderAddressBlocked(httpx2.Request(req.method, str(req.url)))
        return transport, protocol


class _GuardedAiohttpClient(Httpx2AiohttpClient):
    """The SDK's aiohttp client (`openai.DefaultAioHttpClient`: its timeouts, limits, redirects) whose
    transports, direct and through a proxy from the environment, connect through `_GuardedConnector`."""

    def __init__(self, *, peer_allowed: Callable[[str], bool] = provider_peer_allowed, **kwargs: Any) -> None:
        self._peer_allowed = peer_allowed
        kwargs.setdefault("timeout", openai.DEFAULT_TIMEOUT)
        kwargs.setdefault("limits", openai.DEFAULT_CONNECTION_LIMITS)
        kwargs.setdefault("follow_redirects", True)
        super().__init__(**kwargs)

    def _guarded_transport(self, *, proxy: httpx2.Proxy | None = None, **kwargs: Any) -> AiohttpTransport:
        transport = AiohttpTransport(proxy=proxy, **kwargs)
        limits: httpx2.Limits = kwargs.get("limits") or openai.DEFAULT_CONNECTION_LIMITS
        peer_allowed = self._peer_allowed

        def session() -> aiohttp.ClientSession:  # built on first use, inside the running loop
            connector = _GuardedConnector(
                peer_allowed=peer_allowed,
                ssl=transport.ssl_context,
                limit=limits.max_connections or 0,
                keepalive_timeout=limits.keepalive_expiry,
            )
            return aiohttp.ClientSession(connector=connector)

        transport.client = session
        return transport

    def _init_transport(self, transport: httpx2.AsyncBaseTransport | None = None, **kwargs: Any) -> Any:
        return transport if transport is not None else self._guarded_transport(**kwargs)

    def _init_proxy_transport(self, proxy: httpx2.Proxy, **kwargs: Any) -> Any:
        return self._guarded_transport(proxy=proxy, **kwargs)


def guarded_aiohttp_client(*, peer_allowed: Callable[[str], bool] = provider_peer_allowed) -> httpx2.AsyncClient:
    """The async client the engine's SDK clients use: aiohttp transport, peer checked on connect.
    `peer_allowed` is the rule (tests pass a stricter one to see a real connection refused)."""
    return _GuardedAiohttpClient(peer_allowed=peer_allowed)
