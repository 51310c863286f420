from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "conversations"

    def ready(self) -> None:
        # set_metadata registers first so it is the first tool offered (the reference's order);
        # `conversations` sits before `integrations` in INSTALLED_APPS.
        from conversations.engine.tools import register_system_tool
        from conversations.system_tools import set_metadata_tool

        register_system_tool(set_metadata_tool, aliases=("set_variable",))
