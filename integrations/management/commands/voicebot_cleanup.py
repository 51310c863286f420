"""`manage.py voicebot_cleanup`: delete expired download tokens, exports, saved responses, voice-turn
audio past VOICEBOT_VOICE_AUDIO_RETENTION_DAYS, call recordings past
VOICEBOT_CALL_RECORDING_RETENTION_DAYS and stale sandbox temp dirs (the same job Celery beat runs
every VOICEBOT_CLEANUP_INTERVAL_S)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from integrations.cleanup import cleanup_expired


class Command(BaseCommand):
    help = (
        "Delete expired download tokens, exports, saved responses, old voice audio and call recordings, "
        "and sandbox temp dirs."
    )

    def handle(self, *args, **options) -> None:
        try:
            counts = cleanup_expired()
        except DatabaseError as exc:  # one clear line for cron/systemd, not a traceback
            raise CommandError(f"Database unavailable: {exc}") from exc
        self.stdout.write(", ".join(f"{name}: {count}" for name, count in counts.items()))
