"""Exact Origin checking for the Studio's websockets (a session cookie rides along, so CSWSH matters).

Channels' `AllowedHostsOriginValidator` compares only the Origin's *host name* with ALLOWED_HOSTS,
so any page on `http://localhost:9999` could open the Studio socket of a server on
`http://localhost:8000` with the staff user's cookie. Here the Origin's scheme, host and port must
equal the handshake's own origin (its scheme, and its Host header, which must itself be one of
ALLOWED_HOSTS, so a DNS-rebound name does not pass), or an entry of CSRF_TRUSTED_ORIGINS, the same
rule Django's CSRF check applies to unsafe HTTP requests.

The handshake's scheme is `https` when the socket came over TLS (`wss`) or when
SECURE_PROXY_SSL_HEADER (DJANGO_BEHIND_TLS_PROXY) says a TLS proxy forwarded it. Real clients always
send a Host header (HTTP/1.1 requires it); for in-process callers without one (Channels' test
communicator), the server address from the scope is used, else each plain ALLOWED_HOSTS name on the
scheme's default port.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain

DEFAULT_PORTS = {"http": 80, "https": 443}
Origin = tuple[str, str, int]


def parse_origin(value: str | None) -> Origin | None:
    """(scheme, lower-case host, port with the scheme's default filled in), or None if not an origin."""
    if not value:
        return None
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
        return None
    if parts.query or parts.fragment or parts.username or parts.password:
        return None
    return parts.scheme, parts.hostname.lower(), port if port is not None else DEFAULT_PORTS[parts.scheme]


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key.lower() == name:
            return value.decode("latin-1").strip()
    return None


def request_scheme(scope: dict[str, Any]) -> str:
    """`https` for a TLS socket or one a trusted TLS proxy forwarded, else `http`."""
    if scope.get("scheme") in ("wss", "https"):
        return "https"
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:
        meta_name, expected = proxy
        header = meta_name.removeprefix("HTTP_").lower().replace("_", "-").encode()
        value = _header(scope, header)
        if value is not None and value.split(",", 1)[0].strip() == expected:
            return "https"
    return "http"


def request_origins(scope: dict[str, Any]) -> list[Origin]:
    """The origins a same-site page would send for this handshake (usually exactly one)."""
    scheme = request_scheme(scope)
    host = _header(scope, b"host")
    if host is not None:
        domain, port = split_domain_port(host)
        if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
            return []
        own = parse_origin(f"{scheme}://{host}")
        return [own] if own else []
    server = scope.get("server")
    if server and server[0]:
        own = parse_origin(f"{scheme}://{server[0]}:{server[1]}") if server[1] else None
        return [own] if own else []
    names = [h for h in settings.ALLOWED_HOSTS if h and not h.startswith(".") and "*" not in h]
    return [(scheme, name.lower(), DEFAULT_PORTS[scheme]) for name in names]


def trusted_origin(origin: Origin) -> bool:
    """Whether CSRF_TRUSTED_ORIGINS lists the origin (exact, or Django's `https://*.example.com`)."""
    scheme, host, port = origin
    for entry in getattr(settings, "CSRF_TRUSTED_ORIGINS", []):
        if "://*." in entry:
            entry_scheme, pattern = entry.split("://*.", 1)
            trusted = parse_origin(f"{entry_scheme}://{pattern}")
            if trusted and scheme == trusted[0] and port == trusted[2] and is_same_domain(host, "." + trusted[1]):
                return True
        elif parse_origin(entry) == origin:
            return True
    return False


def origin_allowed(scope: dict[str, Any]) -> bool:
    """The exact same-origin rule for a websocket handshake (see the module docstring). A client that
    authenticated with a token (`config.ws_token_auth`) and sends no Origin is a script, not a browser
    page, and passes; one that sends an Origin is checked like any browser."""
    header = _header(scope, b"origin")
    if header is None and scope.get("auth_method") == "token":
        return True
    origin = parse_origin(header)
    if origin is None:
        return False
    return origin in request_origins(scope) or trusted_origin(origin)


class ExactOriginValidator:
    """ASGI wrapper: refuse (close before accept) a websocket whose Origin is not exactly ours."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket" and not origin_allowed(scope):
            denier = WebsocketDenier()
            return await denier(scope, receive, send)
        return await self.application(scope, receive, send)
