from django.apps import AppConfig


class EmbedConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "embed"

    def ready(self) -> None:
        """Tell `voicebot_rotate_secrets` which column holds encrypted signing secrets."""
        from bots.crypto import register_encrypted_column
        from embed.models import ClientKey

        register_encrypted_column(ClientKey, "signing_secret_ciphertext", "client key signing secrets")
