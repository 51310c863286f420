"""`GET /healthz`: 200 when the database answers, 503 otherwise (for load balancers and systemd)."""

from __future__ import annotations

from django.db import connection
from django.db.utils import DatabaseError
from django.http import JsonResponse


def healthz(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return JsonResponse({"ok": False, "database": "unavailable", "detail": exc.__class__.__name__}, status=503)
    return JsonResponse({"ok": True, "database": "ok"})
