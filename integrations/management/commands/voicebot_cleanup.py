"""`manage.py voicebot_cleanup`: delete expired download tokens, exports, saved responses and stale
sandbox temp dirs (the same job Celery beat runs every VOICEBOT_CLEANUP_INTERVAL_S)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from integrations.cleanup import cleanup_expired


class Command(BaseCommand):
    help = "Delete expired download tokens, exports, saved responses and sandbox temp dirs."

    def handle(self, *args, **options) -> None:
        counts = cleanup_expired()
        self.stdout.write(", ".join(f"{name}: {count}" for name, count in counts.items()))
