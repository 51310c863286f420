from django.apps import AppConfig


class AudioConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "audio"

    def ready(self) -> None:
        # REST chat (in `conversations`, which cannot import `audio`) speaks through the voice pipeline.
        from audio.speaker import speaker_for_bot
        from conversations.speakers import register_speaker

        register_speaker(speaker_for_bot)
