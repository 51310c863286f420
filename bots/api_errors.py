"""DRF exception handler: every error is `{"detail": ...}` (plus field errors), never an HTML 500 for bad input."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import OperationalError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from bots.crypto import SecretError


def exception_handler(exc, context):
    if isinstance(exc, SecretError):
        return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, OperationalError):  # database locked (SQLite busy) or unreachable: retryable, not a 500
        return Response(
            {"detail": "The database is busy or unavailable; please try again."},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.ValidationError) and isinstance(response.data, dict):
        data = dict(response.data)
        if "detail" not in data:
            first_field, first_errors = next(iter(data.items()), ("", []))
            message = first_errors[0] if isinstance(first_errors, list) and first_errors else first_errors
            data = {
                "detail": f"{first_field}: {message}" if first_field != "non_field_errors" else str(message),
                **data,
            }
        response.data = data
    elif response is not None and isinstance(exc, exceptions.ValidationError) and isinstance(response.data, list):
        response.data = {"detail": "; ".join(str(m) for m in response.data)}
    return response
