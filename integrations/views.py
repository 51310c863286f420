"""Public download of an export by its token: the token is the capability (random, expiring)."""

from __future__ import annotations

from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from integrations.exports import download_find


@require_GET
def download(request: HttpRequest, token: str) -> HttpResponse:
    found = download_find(token)
    if found is None:
        return JsonResponse({"detail": "Download token not found or expired."}, status=404)
    export = found.export
    try:
        handle = export.file.open("rb")
    except (FileNotFoundError, ValueError):
        return JsonResponse({"detail": "File not found."}, status=404)
    response = FileResponse(handle, as_attachment=True, filename=export.filename, content_type=export.mime_type)
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response
