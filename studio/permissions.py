"""Who may use the Studio: logged-in staff.

Anonymous users go to the login page; signed-in non-staff users get a plain "staff only" page (403)
rather than a redirect loop through the login form. HTMX requests cannot follow a redirect into a
fragment, so they get `HX-Redirect` to the login page.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_protect

View = Callable[..., HttpResponse]


def staff_required(view: View) -> View:
    """Decorator for every Studio view; CSRF protection is explicit so no view can drop it."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            login = redirect_to_login(request.get_full_path())
            if getattr(request, "htmx", False):
                response = HttpResponse(status=401)
                response["HX-Redirect"] = login.url
                return response
            return login
        if not (user.is_active and user.is_staff):
            return render(request, "studio/staff_only.html", status=403)
        return view(request, *args, **kwargs)

    return csrf_protect(wrapper)
