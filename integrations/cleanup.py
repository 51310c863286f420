"""Delete what has expired: download tokens, exports, saved responses (rows AND files), voice-turn
audio older than VOICEBOT_VOICE_AUDIO_RETENTION_DAYS (files; the messages stay), the files other apps
registered with `conversations.services.register_expired_files` (call recordings) and stale sandbox
temp dirs. Run by Celery beat (`integrations.tasks.cleanup_expired`) and by
`manage.py voicebot_cleanup`. Also names a bot's stored files for `bots.services.bot_delete`
(registered in `IntegrationsConfig.ready`)."""

from __future__ import annotations

import shutil
import time
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from bots.models import Bot
from conversations.models import Message
from conversations.services import expired_files_delete, voice_audio_delete_older_than
from integrations.models import DownloadToken, Export, SavedResponse
from integrations.sandbox import sandbox_root

STALE_SANDBOX_SECONDS = 3600


def _delete_with_files(queryset) -> int:
    count = 0
    for row in queryset.iterator():
        if row.file:
            row.file.delete(save=False)
        row.delete()
        count += 1
    return count


def stored_files_of_bot(bot: Bot) -> list[str]:
    """Storage names of the saved responses, exports and voice audio of every conversation of `bot`."""
    names: list[str] = []
    for model in (SavedResponse, Export):
        names.extend(n for n in model.objects.filter(conversation__bot=bot).values_list("file", flat=True) if n)
    names.extend(n for n in Message.objects.filter(conversation__bot=bot).values_list("audio", flat=True) if n)
    return names


def cleanup_expired() -> dict[str, int]:
    now = timezone.now()
    tokens, _ = DownloadToken.objects.filter(expires_at__lte=now).delete()
    exports = _delete_with_files(Export.objects.filter(expires_at__lte=now))
    saved = _delete_with_files(SavedResponse.objects.filter(expires_at__lte=now))
    voice_audio = 0
    retention_days = getattr(settings, "VOICEBOT_VOICE_AUDIO_RETENTION_DAYS", 0)
    if retention_days > 0:
        voice_audio = voice_audio_delete_older_than(cutoff=now - timedelta(days=retention_days))
    temp_dirs = 0
    cutoff = time.time() - STALE_SANDBOX_SECONDS
    root = sandbox_root()
    for entry in root.iterdir():
        try:
            if entry.is_dir() and not entry.is_symlink() and entry.stat().st_mtime < cutoff:
                shutil.rmtree(entry, ignore_errors=True)
                temp_dirs += 1
        except OSError:
            continue
    return {
        "tokens": tokens,
        "exports": exports,
        "saved_responses": saved,
        "voice_audio": voice_audio,
        **expired_files_delete(now=now),
        "temp_dirs": temp_dirs,
    }
