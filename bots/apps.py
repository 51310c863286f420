from django.apps import AppConfig


class BotsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "bots"

    def ready(self) -> None:
        from bots import checks  # noqa: F401  (registers the VOICEBOT_SECRET_KEY check)
        from bots.crypto import register_encrypted_column
        from bots.models import ProviderKey

        register_encrypted_column(ProviderKey, "secret_ciphertext", "provider key secrets")
