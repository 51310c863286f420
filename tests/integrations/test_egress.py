"""The outbound HTTP guard: private, loopback, link-local and metadata addresses are refused unless
allow-listed, the connection goes to the checked address, redirects are re-checked, sizes capped."""

from __future__ import annotations

import ipaddress

import pytest

from integrations.egress import AllowList, EgressError, fetch, is_forbidden_address, resolve_checked


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "169.254.169.254",
        "10.1.2.3",
        "192.168.0.10",
        "172.16.5.5",
        "100.64.0.1",
        "0.0.0.0",
        "::1",
        "fd00:ec2::254",
        "fe80::1",
        "::ffff:127.0.0.1",
        "64:ff9b::a00:1",
        "224.0.0.1",
    ],
)
def test_it_treats_internal_addresses_as_forbidden(address):
    assert is_forbidden_address(ipaddress.ip_address(address))


def test_it_allows_public_addresses():
    assert not is_forbidden_address(ipaddress.ip_address("93.184.216.34"))
    assert not is_forbidden_address(ipaddress.ip_address("2606:4700::1111"))


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/x", "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/"]
)
def test_it_refuses_internal_urls_when_not_allowed(settings, url):
    settings.VOICEBOT_HTTP_ALLOWED_HOSTS = []
    with pytest.raises(EgressError) as refused:
        fetch("GET", url)
    assert refused.value.code == "blocked_address"


def test_it_refuses_a_name_that_resolves_to_loopback(settings):
    settings.VOICEBOT_HTTP_ALLOWED_HOSTS = []
    with pytest.raises(EgressError) as refused:
        resolve_checked("localhost", 80)
    assert refused.value.code == "blocked_address"


def test_it_admits_hosts_ips_and_cidrs_from_the_allow_list():
    allow = AllowList.parse(["api.internal", ".corp.example", "10.0.0.0/8", "127.0.0.1"])
    assert allow.admits_host("api.internal")
    assert allow.admits_host("x.corp.example")
    assert allow.admits_ip(ipaddress.ip_address("10.9.9.9"))
    assert allow.admits_ip(ipaddress.ip_address("127.0.0.1"))
    assert not allow.admits_ip(ipaddress.ip_address("127.0.0.2"))


def test_it_fetches_from_an_allowed_loopback_api_and_connects_to_the_checked_address(allow_loopback, mock_api):
    response = fetch("GET", f"{mock_api.url}/v1/echo?a=1")
    assert response.status_code == 200
    assert response.peer_ip == "127.0.0.1"
    assert response.json()["headers"]["Host"] == mock_api.url.removeprefix("http://")


def test_it_rechecks_every_redirect_hop(settings, mock_api):
    settings.VOICEBOT_HTTP_ALLOWED_HOSTS = ["127.0.0.1"]
    with pytest.raises(EgressError) as refused:
        fetch("GET", f"{mock_api.url}/v1/redirect?to=http://169.254.169.254/latest/meta-data/")
    assert refused.value.code == "blocked_address"
    followed = fetch("GET", f"{mock_api.url}/v1/redirect?to=/health")
    assert followed.json() == {"ok": True}
    assert followed.redirects


def test_it_cuts_responses_larger_than_the_cap(allow_loopback, mock_api):
    with pytest.raises(EgressError) as too_big:
        fetch("GET", f"{mock_api.url}/v1/big?bytes=200000", max_bytes=50_000)
    assert too_big.value.code == "too_large"


def test_it_refuses_non_http_schemes_and_credentials_in_urls(allow_loopback):
    for url in ("file:///etc/passwd", "gopher://127.0.0.1/", "http://user:pw@127.0.0.1/"):
        with pytest.raises(EgressError) as refused:
            fetch("GET", url)
        assert refused.value.code == "bad_url"
