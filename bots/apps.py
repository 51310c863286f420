from django.apps import AppConfig


class BotsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "bots"

    def ready(self) -> None:
        from bots import checks  # noqa: F401  (registers the VOICEBOT_SECRET_KEY check)
        from bots.config_cache import invalidate_on
        from bots.crypto import register_encrypted_column
        from bots.models import Bot, ProviderKey

        register_encrypted_column(ProviderKey, "secret_ciphertext", "provider key secrets")
        invalidate_on(Bot, ProviderKey)  # a saved bot or key is seen fresh by every process
