"""The ONE function integration code uses to reach the outside world: `fetch`.

Why a module of its own: tool URLs are templates filled with model- and user-controlled values, so
every outbound request is a potential SSRF. Checking a *name* and then letting an HTTP library resolve
it again is defeated by DNS rebinding, so here we resolve once, check the addresses, and open the
socket to the address we checked (urllib3 connection pool keyed by the IP), while the `Host` header,
TLS SNI and certificate verification keep using the original host name. Redirects are followed by
hand and every hop goes through the same check. Responses are read in chunks and cut at
`VOICEBOT_HTTP_MAX_RESPONSE_BYTES`, so a hostile server cannot exhaust memory.

Refused unless `VOICEBOT_HTTP_ALLOWED_HOSTS` admits them (the classification is
`bots.network_policy`, shared with the model-provider client): every address that is not globally
routable (loopback, RFC 1918, link-local incl. 169.254.169.254, ULA incl. fd00:ec2::254, CGNAT,
reserved, unspecified), multicast, and IPv4 addresses hidden in IPv4-mapped or NAT64 IPv6 addresses.
An allow-list entry may name a port (`host:port`, `[v6]:port`, `10.0.0.0/8:8080`); an entry without
one admits every port. A host *name* entry never admits a metadata or link-local address (a name can
be re-pointed; only an explicit IP/CIDR entry admits those).

What a caller learns is deliberately coarse: "blocked" without the resolved address, and one message
for every network failure (refused, timed out, reset, TLS, a slow drip), so a tool cannot be used to
map internal addresses or tell open ports from closed ones. The details go to the debug log.

On a redirect to another origin (scheme, host or port), credential headers (Authorization, Cookie,
Proxy-Authorization and the tool's own configured headers) are dropped, so an https→http hop on the
same host never carries them in clear text.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import certifi
import urllib3
from django.conf import settings

from bots.network_policy import (
    BLOCKED_MESSAGE,
    IPAddress,
    is_forbidden_address,
    is_metadata_or_link_local,
    parse_ip,
)
from observability import observe

__all__ = [
    "AllowList",
    "EgressError",
    "EgressResponse",
    "fetch",
    "headers_for_redirect",
    "is_forbidden_address",
    "resolve_checked",
]

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 5
_CHUNK = 64 * 1024
_REDIRECT_CODES = {301, 302, 303, 307, 308}
UNREACHABLE_MESSAGE = "Request failed: no usable response from the server (unreachable, closed or too slow)."
DNS_MESSAGE = "Blocked: the host name could not be resolved."
CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
# Headers that carry no credentials; with no explicit `secret_headers`, every other header a caller
# passes is treated as one.
_PLAIN_HEADERS = frozenset({"accept", "accept-language", "accept-encoding", "user-agent", "content-type"})
_PORT_RE = re.compile(r"^(?P<host>[^:]+):(?P<port>\d{1,5})$")
_BRACKETED_RE = re.compile(r"^\[(?P<host>[^\]]+)\](?::(?P<port>\d{1,5}))?$")


class EgressError(Exception):
    """An outbound request that was refused or failed; `code` is stable, the message is safe to show."""

    def __init__(self, code: str, message: str, *, url: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.url = url

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "url": self.url}


@dataclass
class EgressResponse:
    status_code: int
    reason: str
    url: str  # the final URL after redirects
    headers: dict[str, str]
    content: bytes
    peer_ip: str
    redirects: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content.decode("utf-8"))


# --- address policy ------------------------------------------------------------------------------

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def split_allow_entry(raw: str) -> tuple[str, int | None]:
    """`host[:port]`, `[v6][:port]`, `cidr[:port]` → (host, port or None). A bare IPv6 address has no
    port (write `[::1]:8080`). Raises ValueError for a port outside 1..65535."""
    entry = raw.strip().lower()
    port_text: str | None = None
    bracketed = _BRACKETED_RE.match(entry)
    plain = _PORT_RE.match(entry)
    if bracketed:
        entry, port_text = bracketed.group("host"), bracketed.group("port")
    elif plain:
        entry, port_text = plain.group("host"), plain.group("port")
    if port_text is None:
        return entry, None
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} is outside 1..65535")
    return entry, port


@dataclass(frozen=True)
class AllowList:
    """Parsed `VOICEBOT_HTTP_ALLOWED_HOSTS`: host names (exact, or `.example.com` for subdomains),
    IP addresses and CIDR networks, each optionally with `:port` (no port: every port)."""

    names: tuple[tuple[str, int | None], ...]
    suffixes: tuple[tuple[str, int | None], ...]
    networks: tuple[tuple[Network, int | None], ...]

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        names: list[tuple[str, int | None]] = []
        suffixes: list[tuple[str, int | None]] = []
        networks: list[tuple[Network, int | None]] = []
        for raw in entries:
            if not raw.strip():
                continue
            entry, port = split_allow_entry(raw)
            try:
                networks.append((ipaddress.ip_network(entry, strict=False), port))
                continue
            except ValueError:
                pass
            if entry.startswith("."):
                suffixes.append((entry, port))
            else:
                names.append((entry.rstrip("."), port))
        return cls(tuple(names), tuple(suffixes), tuple(networks))

    def admits_host(self, host: str, port: int | None = None) -> bool:
        """Does a name entry admit `host` (on `port`; with port None only port-less entries count)?"""
        host = host.lower().rstrip(".")
        return any(host == n and _port_ok(p, port) for n, p in self.names) or any(
            host.endswith(s) and _port_ok(p, port) for s, p in self.suffixes
        )

    def admits_ip(self, ip: IPAddress, port: int | None = None) -> bool:
        return any(ip.version == net.version and ip in net and _port_ok(p, port) for net, p in self.networks)


def _port_ok(entry_port: int | None, port: int | None) -> bool:
    return entry_port is None or entry_port == port


def current_allow_list() -> AllowList:
    return AllowList.parse(getattr(settings, "VOICEBOT_HTTP_ALLOWED_HOSTS", []) or [])


def resolve_checked(host: str, port: int, *, allow: AllowList | None = None) -> str:
    """Resolve `host` and return ONE address the policy admits (the one to connect to).

    Raises EgressError("blocked_address") when no resolved address is admitted on `port`, ("dns") when
    the name does not resolve. Neither message names the addresses (they go to the debug log).
    """
    allow = allow or current_allow_list()
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        logger.debug("egress: cannot resolve %r: %s", host, exc)
        raise EgressError("dns", DNS_MESSAGE) from None
    host_admitted = allow.admits_host(host, port)
    refused: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        ip = parse_ip(str(sockaddr[0]))
        if ip is None:
            continue
        if allow.admits_ip(ip, port):
            return str(ip)
        # A name entry never admits metadata/link-local addresses (the name could be re-pointed there).
        if not is_metadata_or_link_local(ip) and (host_admitted or not is_forbidden_address(ip)):
            return str(ip)
        refused.append(str(ip))
    logger.debug("egress: blocked %r port %s (resolved to %s)", host, port, ", ".join(sorted(set(refused))))
    observe.egress_blocked("blocked_address")
    raise EgressError("blocked_address", f"{BLOCKED_MESSAGE} See VOICEBOT_HTTP_ALLOWED_HOSTS.")


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = (parts.scheme or "").lower()
    try:
        port = parts.port or {"https": 443, "http": 80}.get(scheme)
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower().rstrip("."), port


def headers_for_redirect(
    headers: Mapping[str, str], *, from_url: str, to_url: str, secret_headers: Iterable[str] | None = None
) -> dict[str, str]:
    """The headers to send to a redirect target.

    Same origin (scheme, host and port): all of them. Any other origin, including an https→http
    downgrade on the same host or another port: without Authorization, Cookie, Proxy-Authorization
    and `secret_headers` (None: every header except Accept*, User-Agent and Content-Type).
    """
    if _origin(from_url) == _origin(to_url):
        return dict(headers)
    if secret_headers is None:
        secret = {k.lower() for k in headers if k.lower() not in _PLAIN_HEADERS}
    else:
        secret = {k.lower() for k in secret_headers}
    drop = CREDENTIAL_HEADERS | secret
    return {k: v for k, v in headers.items() if k.lower() not in drop}


# --- the request ---------------------------------------------------------------------------------


def _pool(scheme: str, ip: str, port: int, host: str, timeout: urllib3.Timeout) -> urllib3.HTTPConnectionPool:
    if scheme == "https":
        return urllib3.HTTPSConnectionPool(
            ip,
            port,
            timeout=timeout,
            retries=False,
            maxsize=1,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
            server_hostname=host,
            assert_hostname=host,
        )
    return urllib3.HTTPConnectionPool(ip, port, timeout=timeout, retries=False, maxsize=1)


def _read_capped(resp: urllib3.BaseHTTPResponse, limit: int, deadline: float, url: str) -> bytes:
    buffer = bytearray()
    for chunk in resp.stream(_CHUNK, decode_content=True):
        buffer.extend(chunk)
        if len(buffer) > limit:
            raise EgressError("too_large", f"Response is larger than {limit} bytes.", url=url)
        if time.monotonic() > deadline:
            logger.debug("egress: %s: the response took too long to arrive", url)
            raise EgressError("unreachable", UNREACHABLE_MESSAGE, url=url)
    return bytes(buffer)


def fetch(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    max_bytes: int | None = None,
    connect_timeout: float | None = None,
    read_timeout: float | None = None,
    secret_headers: Iterable[str] | None = None,
) -> EgressResponse:
    """Send one HTTP request with the SSRF policy applied to every hop. Never raises anything but
    EgressError for network-level problems; HTTP error statuses are returned, not raised.

    `secret_headers`: the caller's credential-bearing header names, dropped (with Authorization,
    Cookie and Proxy-Authorization) on a redirect to another origin; None treats every header but
    Accept*, User-Agent and Content-Type as one.
    """
    method = method.upper()
    limit = max_bytes or settings.VOICEBOT_HTTP_MAX_RESPONSE_BYTES
    connect_s = connect_timeout or settings.VOICEBOT_HTTP_CONNECT_TIMEOUT_S
    read_s = read_timeout or settings.VOICEBOT_HTTP_READ_TIMEOUT_S
    timeout = urllib3.Timeout(connect=connect_s, read=read_s)
    allow = current_allow_list()
    sent_headers = dict(headers or {})
    secret_names = None if secret_headers is None else tuple(secret_headers)
    hops: list[str] = []
    current_url = url

    for _hop in range(MAX_REDIRECTS + 1):
        parts = urlsplit(current_url)
        scheme = (parts.scheme or "").lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise EgressError("bad_url", "Only absolute http:// and https:// URLs can be called.", url=current_url)
        if parts.username or parts.password:
            raise EgressError("bad_url", "Credentials inside the URL are not allowed; use headers.", url=current_url)
        host = parts.hostname
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError as exc:
            raise EgressError("bad_url", f"Invalid port: {exc}", url=current_url) from exc
        ip = resolve_checked(host, port, allow=allow)
        default_port = port == (443 if scheme == "https" else 80)
        host_header = (f"[{host}]" if ":" in host else host) + ("" if default_port else f":{port}")
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        deadline = time.monotonic() + connect_s + read_s
        pool = _pool(scheme, ip, port, host, timeout)
        started_ns = time.time_ns()
        try:
            resp = pool.urlopen(
                method,
                target,
                body=body,
                headers={**sent_headers, "Host": host_header},
                redirect=False,
                retries=False,
                preload_content=False,
                assert_same_host=False,
            )
            observe.http_request(host, port, resp.status, started_ns)  # a span: host and status, never the path
            try:
                if resp.status in _REDIRECT_CODES and resp.headers.get("Location"):
                    location = urljoin(current_url, resp.headers["Location"])
                    resp.drain_conn()
                    hops.append(current_url)
                    if resp.status == 303 or (resp.status in (301, 302) and method not in ("GET", "HEAD")):
                        method, body = "GET", None
                        sent_headers = {k: v for k, v in sent_headers.items() if k.lower() != "content-type"}
                    # Tool headers usually carry credentials for the first origin only.
                    sent_headers = headers_for_redirect(
                        sent_headers, from_url=current_url, to_url=location, secret_headers=secret_names
                    )
                    current_url = location
                    continue
                content = _read_capped(resp, limit, deadline, current_url)
                return EgressResponse(
                    status_code=resp.status,
                    reason=resp.reason or "",
                    url=current_url,
                    headers={k: v for k, v in resp.headers.items()},
                    content=content,
                    peer_ip=ip,
                    redirects=hops,
                )
            finally:
                resp.release_conn()
        except EgressError:
            raise
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            # Refused, timed out, reset, TLS or protocol trouble: one answer, so that the caller cannot
            # tell a closed port from a filtered one or a silent service.
            logger.debug("egress: %s %s failed: %r", method, current_url, exc)
            observe.http_request(host, port, None, started_ns, error="unreachable")
            raise EgressError("unreachable", UNREACHABLE_MESSAGE, url=current_url) from None
        finally:
            pool.close()
    raise EgressError("too_many_redirects", f"More than {MAX_REDIRECTS} redirects.", url=current_url)
