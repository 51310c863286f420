"""Login throttling for the Studio and admin login forms (django-axes), with a clear answer.

django-axes counts failed logins per username + client address (REMOTE_ADDR; uvicorn sets it from
X-Forwarded-For only for the proxy addresses it trusts) in the database, so every server process
sees the same counts. After VOICEBOT_LOGIN_FAILURE_LIMIT failures that pair is refused, even with
the right password, for VOICEBOT_LOGIN_COOLOFF_MINUTES after the latest attempt; a success resets
the count. Here: the backend that lets code paths without a request through, and the 429 answer.
"""

from __future__ import annotations

import math

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string


class LoginThrottleBackend(AxesStandaloneBackend):
    """axes' checking backend, except that `authenticate()` without a request (management commands,
    the test client's `login()`) is not a login attempt over HTTP and is left to the next backend.
    Every HTTP login path (Django's LoginView, the admin) passes the request."""

    def authenticate(self, request: HttpRequest | None = None, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


def lockout_message() -> str:
    minutes = max(1, math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many failed login attempts. Try again in {minutes} {unit}."


def lockout_response(request: HttpRequest, *_args, **_kwargs) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: 429 with the message; the login page again for a browser, JSON otherwise."""
    message = lockout_message()
    accepts = request.headers.get("Accept", "")
    if request.path.startswith("/api/") or ("application/json" in accepts and "text/html" not in accepts):
        return JsonResponse({"detail": message}, status=429)
    html = render_to_string(
        "studio/login.html",
        {"lockout_message": message, "next": request.POST.get("next", "") or request.GET.get("next", "")},
        request=request,
    )
    return HttpResponse(html, status=429)
