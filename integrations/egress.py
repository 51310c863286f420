"""The ONE function integration code uses to reach the outside world: `fetch`.

Why a module of its own: tool URLs are templates filled with model- and user-controlled values, so
every outbound request is a potential SSRF. Checking a *name* and then letting an HTTP library resolve
it again is defeated by DNS rebinding, so here we resolve once, check the addresses, and open the
socket to the address we checked (urllib3 connection pool keyed by the IP), while the `Host` header,
TLS SNI and certificate verification keep using the original host name. Redirects are followed by
hand and every hop goes through the same check. Responses are read in chunks and cut at
`VOICEBOT_HTTP_MAX_RESPONSE_BYTES`, so a hostile server cannot exhaust memory.

Refused unless `VOICEBOT_HTTP_ALLOWED_HOSTS` admits them: every address that is not globally
routable (loopback, RFC 1918, link-local incl. 169.254.169.254, ULA incl. fd00:ec2::254, CGNAT,
reserved, unspecified), multicast, and IPv4 addresses hidden in IPv4-mapped or NAT64 IPv6 addresses.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import certifi
import urllib3
from django.conf import settings

MAX_REDIRECTS = 5
_CHUNK = 64 * 1024
_REDIRECT_CODES = {301, 302, 303, 307, 308}
_METADATA_ADDRESSES = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


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


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_forbidden_address(ip: IPAddress) -> bool:
    """True for any address an integration must not reach by default."""
    inner = _embedded_ipv4(ip)
    if inner is not None and is_forbidden_address(inner):
        return True
    return ip in _METADATA_ADDRESSES or ip.is_multicast or not ip.is_global


@dataclass(frozen=True)
class AllowList:
    """Parsed `VOICEBOT_HTTP_ALLOWED_HOSTS`: host names (exact, or `.example.com` for subdomains),
    IP addresses and CIDR networks."""

    names: frozenset[str]
    suffixes: tuple[str, ...]
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        names: set[str] = set()
        suffixes: list[str] = []
        networks = []
        for raw in entries:
            entry = raw.strip().lower().strip("[]")
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            if entry.startswith("."):
                suffixes.append(entry)
            else:
                names.add(entry.rstrip("."))
        return cls(frozenset(names), tuple(suffixes), tuple(networks))

    def admits_host(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return host in self.names or any(host.endswith(s) for s in self.suffixes)

    def admits_ip(self, ip: IPAddress) -> bool:
        return any(ip.version == net.version and ip in net for net in self.networks)


def current_allow_list() -> AllowList:
    return AllowList.parse(getattr(settings, "VOICEBOT_HTTP_ALLOWED_HOSTS", []) or [])


def resolve_checked(host: str, port: int, *, allow: AllowList | None = None) -> str:
    """Resolve `host` and return ONE address the policy admits (the one to connect to).

    Raises EgressError("blocked_address") when no resolved address is admitted, ("dns") when the name
    does not resolve.
    """
    allow = allow or current_allow_list()
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise EgressError("dns", f"Cannot resolve host {host!r}: {exc}") from exc
    host_admitted = allow.admits_host(host)
    refused: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if host_admitted or allow.admits_ip(ip) or not is_forbidden_address(ip):
            return str(ip)
        refused.append(str(ip))
    raise EgressError(
        "blocked_address",
        f"Refusing to connect to {host!r} ({', '.join(sorted(set(refused)))}): private, loopback, link-local "
        "or metadata addresses are blocked (see VOICEBOT_HTTP_ALLOWED_HOSTS).",
    )


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
            raise EgressError("timeout", "Response took too long to arrive.", url=url)
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
) -> EgressResponse:
    """Send one HTTP request with the SSRF policy applied to every hop. Never raises anything but
    EgressError for network-level problems; HTTP error statuses are returned, not raised."""
    method = method.upper()
    limit = max_bytes or settings.VOICEBOT_HTTP_MAX_RESPONSE_BYTES
    connect_s = connect_timeout or settings.VOICEBOT_HTTP_CONNECT_TIMEOUT_S
    read_s = read_timeout or settings.VOICEBOT_HTTP_READ_TIMEOUT_S
    timeout = urllib3.Timeout(connect=connect_s, read=read_s)
    allow = current_allow_list()
    sent_headers = dict(headers or {})
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
            try:
                if resp.status in _REDIRECT_CODES and resp.headers.get("Location"):
                    location = urljoin(current_url, resp.headers["Location"])
                    resp.drain_conn()
                    hops.append(current_url)
                    if resp.status == 303 or (resp.status in (301, 302) and method not in ("GET", "HEAD")):
                        method, body = "GET", None
                        sent_headers = {k: v for k, v in sent_headers.items() if k.lower() != "content-type"}
                    if urlsplit(location).netloc.lower() != parts.netloc.lower():
                        # Tool headers usually carry credentials for the first host only.
                        sent_headers = {}
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
        except (urllib3.exceptions.TimeoutError, TimeoutError) as exc:
            raise EgressError("timeout", f"Request timed out: {exc}", url=current_url) from exc
        except urllib3.exceptions.SSLError as exc:
            raise EgressError("tls", f"TLS error: {exc}", url=current_url) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise EgressError("connection", f"Request failed: {exc}", url=current_url) from exc
        finally:
            pool.close()
    raise EgressError("too_many_redirects", f"More than {MAX_REDIRECTS} redirects.", url=current_url)
