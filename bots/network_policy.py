"""Which network addresses this server may connect to: the ONE address classification.

Two guards use it. The integrations egress (`integrations.egress`) refuses every address that is not
globally routable unless an allow-list admits it. The model-provider client (`conversations.engine.llm`)
must keep reaching loopback and private addresses, because a local model server (Ollama, vLLM) is a
main use of a provider key's `base_url`, but never a cloud metadata service or a link-local address:
those hand out the machine's own credentials. Both decisions start from the same functions here, so
an address form one guard knows (IPv4 hidden in IPv4-mapped or NAT64 IPv6, an IPv6 zone id) is known
to the other. This module is a leaf: standard library only, no Django and no other project app.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

BLOCKED_MESSAGE = "Blocked: the address is not allowed."
PROVIDER_BLOCKED_MESSAGE = (
    "Blocked: cloud metadata and link-local addresses (169.254.0.0/16, fe80::/10, fd00:ec2::254, "
    "100.100.100.200, metadata.google.internal …) cannot be used as a model server."
)

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LINK_LOCAL = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))
# Instance metadata services outside link-local space: AWS IMDS over IPv6, Alibaba Cloud.
_METADATA_ADDRESSES = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),
        ipaddress.ip_address("fd00:ec2::254"),
        ipaddress.ip_address("100.100.100.200"),
    }
)
# Names that reach a metadata service from inside a cloud VM (whatever they resolve to here).
_METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "metadata.azure.internal",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.tencentyun.com",
        "metadata.platformequinix.com",
    }
)


def parse_ip(text: str) -> IPAddress | None:
    """`text` as an IP address (brackets and an IPv6 zone id `%eth0` removed), else None."""
    try:
        return ipaddress.ip_address(text.strip().strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside an IPv4-mapped (::ffff:a.b.c.d) or NAT64 (64:ff9b::/96) address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_metadata_or_link_local(ip: IPAddress) -> bool:
    """True for addresses no outbound connection may reach, whatever any allow-list says about names."""
    inner = embedded_ipv4(ip)
    if inner is not None and is_metadata_or_link_local(inner):
        return True
    return ip in _METADATA_ADDRESSES or any(ip.version == net.version and ip in net for net in _LINK_LOCAL)


def is_forbidden_address(ip: IPAddress) -> bool:
    """True for any address an integration must not reach by default: not globally routable (loopback,
    RFC 1918, link-local, ULA, CGNAT, reserved, unspecified), multicast or a metadata service."""
    inner = embedded_ipv4(ip)
    if inner is not None and is_forbidden_address(inner):
        return True
    return is_metadata_or_link_local(ip) or ip.is_multicast or not ip.is_global


def is_metadata_name(host: str) -> bool:
    """True for host names that reach a cloud metadata service."""
    return host.strip().strip("[]").lower().rstrip(".") in _METADATA_NAMES


def provider_host_problem(host: str, *, resolve: bool = True) -> str | None:
    """Why a model server host may not be used (a message), or None.

    Loopback and private addresses pass (local model servers); metadata names, metadata and link-local
    addresses do not. With `resolve`, a name is looked up too, so a name that points at 169.254.169.254
    is refused when the key is saved; a name that does not resolve passes here (the client checks the
    address it actually connects to, every time).
    """
    host = (host or "").strip().strip("[]").lower().rstrip(".")
    if not host:
        return None
    if is_metadata_name(host):
        return PROVIDER_BLOCKED_MESSAGE
    literal = parse_ip(host)
    if literal is not None:
        return PROVIDER_BLOCKED_MESSAGE if is_metadata_or_link_local(literal) else None
    if not resolve:
        return None
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return None
    for *_ignored, sockaddr in infos:
        ip = parse_ip(str(sockaddr[0]))
        if ip is not None and is_metadata_or_link_local(ip):
            return PROVIDER_BLOCKED_MESSAGE
    return None


def provider_base_url_problem(url: str, *, resolve: bool = True) -> str | None:
    """Why `url` cannot be a provider key's base_url (a message), or None when it may (empty passes)."""
    url = (url or "").strip()
    if not url:
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return "Enter a valid URL."
    if parts.scheme.lower() not in ("http", "https") or not host:
        return "The base URL must be an http:// or https:// URL with a host."
    return provider_host_problem(host, resolve=resolve)


def provider_peer_allowed(address: str) -> bool:
    """The connect-time check for model-provider connections: is the peer we are connected to allowed?"""
    ip = parse_ip(address)
    return ip is None or not is_metadata_or_link_local(ip)
