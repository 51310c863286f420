from django.apps import AppConfig


class StudioConfig(AppConfig):
    """The Studio: the top floor. It may import every app; no app imports it."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "studio"
