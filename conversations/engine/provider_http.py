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
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx2
import openai

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
