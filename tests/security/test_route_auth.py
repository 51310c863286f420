"""Walk the whole URL conf: every route refuses an anonymous visitor except the few public ones.

New routes are covered automatically; a route that should be public must be added to PUBLIC below,
with the reason.
"""

from __future__ import annotations

import re
import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

# Route patterns (regex text as Django reports it) that anyone may reach, and why.
PUBLIC = {
    r"^healthz$": "load balancer health check",
    r"^public/": "embed widget, its script and the demo page (the socket checks the client key)",
    r"^api/downloads/": "export downloads: the random, expiring token is the capability",
    r"^login/": "the Studio login page",
    r"^logout/": "logging out",
    r"^admin/login/": "the admin login page",
    r"^admin/logout/": "logging out",
    r"^admin/password_reset": "Django admin's password reset pages",
    r"^admin/reset/": "Django admin's password reset pages",
    r"^static/": "static files",
}

SAMPLE_VALUES = {"uuid": str(uuid.uuid4()), "int": "1", "str": "x", "slug": "x", "path": "x"}


def _walk(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry


def _concrete(route: str) -> str | None:
    """Turn a route (path() or re_path() text) into a URL to request, or None when it can't be built."""
    url = re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: SAMPLE_VALUES.get(m.group(1) or "str", "x"), route)
    url = url.lstrip("^").rstrip("$").replace("\\Z", "").replace("\\", "")
    if re.search(r"[()\[\]?*+|]", url):
        return None
    return "/" + url


def _routes():
    seen = set()
    for route, _pattern in _walk(get_resolver().url_patterns):
        url = _concrete(route)
        if url is None or url in seen:
            continue
        seen.add(url)
        yield route, url


def _is_public(route: str) -> bool:
    normalised = route.lstrip("^")
    return any(re.match(rule, normalised) for rule in PUBLIC)


def _refused(response) -> bool:
    if response.status_code in (401, 403):
        return True
    if response.status_code in (301, 302):
        location = response.headers.get("Location", "")
        return "login" in location
    return False


@pytest.mark.django_db
def test_it_refuses_anonymous_visitors_on_every_private_route(client):
    checked = 0
    leaks = []
    for route, url in _routes():
        if _is_public(route):
            continue
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            if response.status_code == 405:
                continue
            checked += 1
            if not _refused(response):
                leaks.append(f"{method.upper()} {url} -> {response.status_code}")
    assert checked > 0
    assert leaks == []


@pytest.mark.django_db
def test_it_refuses_logged_in_non_staff_users_on_the_api(stranger_client):
    checked = 0
    leaks = []
    for route, url in _routes():
        if _is_public(route) or not url.startswith("/api/"):
            continue
        response = stranger_client.get(url)
        if response.status_code == 405:
            continue
        checked += 1
        if response.status_code not in (401, 403):
            leaks.append(f"GET {url} -> {response.status_code}")
    assert checked > 0
    assert leaks == []
