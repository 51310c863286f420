from django.apps import AppConfig


class EmbedConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "embed"
