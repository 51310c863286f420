"""`GET /metrics`: the Prometheus text format, for a staff user's DRF token or session, or for a source
address on VOICEBOT_METRICS_ALLOWED_IPS (empty by default: never public). Anyone else gets 401/403
with a JSON `{"detail": ...}` body.

The source address is the connection's (`REMOTE_ADDR`): behind the deployment's nginx, uvicorn puts
the client's address there from X-Forwarded-For only for the proxy it trusts (`--forwarded-allow-ips`).
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpResponse
from prometheus_client import exposition
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from observability import metrics


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def address_allowed(address: str) -> bool:
    """Is `address` (REMOTE_ADDR) inside one of VOICEBOT_METRICS_ALLOWED_IPS (addresses or CIDRs)?"""
    entries = tuple(getattr(settings, "VOICEBOT_METRICS_ALLOWED_IPS", ()) or ())
    if not entries or not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _networks(entries))


class StaffOrAllowedAddress(BasePermission):
    message = "Metrics need a staff user's token or an allowed source address."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if user is not None and user.is_authenticated and user.is_staff:
            return True
        return address_allowed(request.META.get("REMOTE_ADDR", ""))


class _FirstRenderer(BaseContentNegotiation):
    """Prometheus asks for text/plain or OpenMetrics; refusals are JSON whatever it accepts."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class MetricsView(APIView):
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [StaffOrAllowedAddress]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = _FirstRenderer
    schema = None  # not part of the REST API's schema

    def get(self, request) -> HttpResponse:
        body, content_type = _exposition(request.META.get("HTTP_ACCEPT", ""))
        response = HttpResponse(body, content_type=content_type)
        response["Cache-Control"] = "no-store"
        return response


def _exposition(accept: str) -> tuple[bytes, str]:
    encoder, content_type = exposition.choose_encoder(accept)
    return encoder(metrics.registry()), content_type


metrics_view = MetricsView.as_view()
