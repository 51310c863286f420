"""The egress on redirects and failures: credentials never follow a redirect to another origin (host,
port or an https→http downgrade), `host:port` allow-list entries admit that port only, and errors say
"blocked" or "failed" without the resolved address or whether a port is open."""

from __future__ import annotations

import socket
from urllib.parse import quote

import pytest

from integrations.egress import AllowList, EgressError, fetch, headers_for_redirect, resolve_checked
from integrations.http_tool import build_request, execute
from integrations.mock_api import MockApiServer

TOOL_HEADERS = {
    "Authorization": "Bearer tool-secret",
    "Cookie": "session=tool-secret",
    "Proxy-Authorization": "Basic tool-secret",
    "X-Api-Key": "tool-secret",
}


@pytest.fixture
def other_api():
    with MockApiServer() as server:
        yield server


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def test_it_drops_credentials_on_an_https_to_http_redirect_on_the_same_host():
    sent = {**TOOL_HEADERS, "Accept": "application/json", "User-Agent": "VoiceBotStudio/1.0"}
    kept = headers_for_redirect(
        sent,
        from_url="https://api.example.com/v1/a",
        to_url="http://api.example.com/v1/b",
        secret_headers=["X-Api-Key", "Authorization", "Cookie", "Proxy-Authorization"],
    )
    assert kept == {"Accept": "application/json", "User-Agent": "VoiceBotStudio/1.0"}


def test_it_keeps_headers_on_the_same_origin_and_drops_them_on_a_port_change():
    same = headers_for_redirect(
        TOOL_HEADERS, from_url="https://api.example.com/a", to_url="https://API.example.com:443/b", secret_headers=[]
    )
    assert same == TOOL_HEADERS
    other_port = headers_for_redirect(
        TOOL_HEADERS, from_url="https://api.example.com/a", to_url="https://api.example.com:8443/b", secret_headers=[]
    )
    assert other_port == {"X-Api-Key": "tool-secret"}  # only the three credential headers: none named secret
    # with no list given, every header but Accept*, User-Agent and Content-Type counts as secret
    assert headers_for_redirect(TOOL_HEADERS, from_url="http://a.example/", to_url="http://b.example/") == {}


def test_a_tool_redirected_to_another_port_does_not_send_its_credentials(allow_loopback, mock_api, other_api):
    target = f"{other_api.url}/v1/echo"
    request = build_request(
        method="GET",
        url_template=f"{mock_api.url}/v1/redirect?to={quote(target, safe='')}",
        headers_template='{"Authorization": "Bearer tool-secret", "Cookie": "s=tool-secret", '
        '"X-Api-Key": "tool-secret"}',
        body_template="",
        ctx={"meta": {}, "args": {}},
    )
    outcome = execute(request)
    assert outcome.ok, outcome.error
    received = {k.lower(): v for k, v in outcome.payload["headers"].items()}
    assert "tool-secret" not in str(received)
    assert not {"authorization", "cookie", "x-api-key"} & set(received)
    assert received["accept"] == "application/json"


def test_a_same_origin_redirect_keeps_the_tool_headers(allow_loopback, mock_api):
    response = fetch(
        "GET",
        f"{mock_api.url}/v1/redirect?to=/v1/echo",
        headers={"Authorization": "Bearer tool-secret"},
        secret_headers=["Authorization"],
    )
    assert response.json()["headers"]["Authorization"] == "Bearer tool-secret"


def test_a_host_port_entry_admits_that_port_only(settings, mock_api, other_api):
    settings.VOICEBOT_HTTP_ALLOWED_HOSTS = [f"127.0.0.1:{port_of(mock_api.url)}"]
    assert fetch("GET", f"{mock_api.url}/health").json() == {"ok": True}
    with pytest.raises(EgressError) as refused:
        fetch("GET", f"{other_api.url}/health")
    assert refused.value.code == "blocked_address"
    # a redirect from the admitted port to another one is re-checked on its port too
    with pytest.raises(EgressError) as redirected:
        fetch("GET", f"{mock_api.url}/v1/redirect?to={quote(other_api.url + '/health', safe='')}")
    assert redirected.value.code == "blocked_address"


def test_allow_list_entries_parse_ports_and_keep_portless_entries_for_every_port():
    allow = AllowList.parse(["api.internal", "db.internal:5432", "[fd00::5]:8080", "10.0.0.0/8:443", "::1"])
    assert allow.admits_host("api.internal", 1) and allow.admits_host("api.internal", 65535)
    assert allow.admits_host("db.internal", 5432) and not allow.admits_host("db.internal", 5433)
    ip = __import__("ipaddress").ip_address
    assert allow.admits_ip(ip("fd00::5"), 8080) and not allow.admits_ip(ip("fd00::5"), 80)
    assert allow.admits_ip(ip("10.1.2.3"), 443) and not allow.admits_ip(ip("10.1.2.3"), 22)
    assert allow.admits_ip(ip("::1"), 22)


def test_an_explicit_ip_entry_may_admit_a_link_local_address():
    assert resolve_checked("169.254.169.254", 80, allow=AllowList.parse(["169.254.169.254/32:80"])) == "169.254.169.254"
    with pytest.raises(EgressError):
        resolve_checked("169.254.169.254", 81, allow=AllowList.parse(["169.254.169.254/32:80"]))


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest/meta-data/", "http://10.1.2.3:22/", "http://[::1]:8080/"]
)
def test_a_blocked_address_error_does_not_name_the_address(settings, url):
    settings.VOICEBOT_HTTP_ALLOWED_HOSTS = []
    with pytest.raises(EgressError) as refused:
        fetch("GET", url)
    message = refused.value.message
    assert message.startswith("Blocked: the address is not allowed")
    for leaked in ("169.254", "10.1.2.3", "::1"):
        assert leaked not in message


def test_a_name_resolving_to_loopback_is_blocked_without_naming_the_address(settings):
    settings.VOICEBOT_HTTP_ALLOWED_HOSTS = []
    with pytest.raises(EgressError) as refused:
        fetch("GET", "http://localhost:9/")
    assert refused.value.code == "blocked_address"
    assert "127.0.0.1" not in refused.value.message and "::1" not in refused.value.message


@pytest.fixture
def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def silent_port():
    """A port that accepts connections (the kernel completes the handshake) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def test_a_closed_port_and_a_silent_one_read_the_same(allow_loopback, closed_port, silent_port):
    errors = []
    for port in (closed_port, silent_port):
        with pytest.raises(EgressError) as failed:
            fetch("GET", f"http://127.0.0.1:{port}/", connect_timeout=0.5, read_timeout=0.5)
        errors.append(failed.value)
    closed, silent = errors
    assert (closed.code, closed.message) == (silent.code, silent.message)
    for error in errors:
        assert "refused" not in error.message.lower() and "timed out" not in error.message.lower()
        assert "127.0.0.1" not in error.message and "Errno" not in error.message


def test_a_tool_error_for_a_closed_port_shows_neither_the_address_nor_refused(allow_loopback, closed_port):
    request = build_request(
        method="GET",
        url_template=f"http://127.0.0.1:{closed_port}/x",
        headers_template="{}",
        body_template="",
        ctx={"meta": {}, "args": {}},
    )
    outcome = execute(request)
    assert not outcome.ok
    assert "refused" not in outcome.error["message"].lower() and "Errno" not in outcome.error["message"]
