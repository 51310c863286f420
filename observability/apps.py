from __future__ import annotations

from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    """Starts tracing when the standard OTEL_* variables ask for it (off by default)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "observability"

    def ready(self) -> None:
        from observability import metrics, tracing

        metrics.register_process_exit()
        tracing.configure_from_env()
