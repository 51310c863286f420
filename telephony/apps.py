from django.apps import AppConfig


class TelephonyConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "telephony"
    verbose_name = "Telephony"

    def ready(self) -> None:
        """Tell `voicebot_rotate_secrets` which column holds encrypted auth tokens,
        `bots.services.bot_delete` which call recordings a bot's conversations left behind, and the
        cleanup job how to expire recordings."""
        from bots.crypto import register_encrypted_column
        from bots.services import register_bot_files
        from conversations.services import register_expired_files
        from telephony.models import TwilioAccount
        from telephony.services import call_recordings_delete_expired, call_recordings_of_bot

        register_encrypted_column(TwilioAccount, "auth_token_ciphertext", "Twilio auth tokens")
        register_bot_files(call_recordings_of_bot)
        register_expired_files("call_recordings", call_recordings_delete_expired)
