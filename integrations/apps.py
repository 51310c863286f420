from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "integrations"

    def ready(self) -> None:
        """Plug into the engine's tool registry: per-bot HTTP tools, then the system tools in the
        reference's order (set_metadata is registered by conversations, which loads first). Tell
        `bots.services.bot_delete` which files a bot's conversations left behind, and
        `voicebot_rotate_secrets` which column holds encrypted headers."""
        from bots.config_cache import invalidate_on
        from bots.crypto import register_encrypted_column
        from bots.services import register_bot_files
        from conversations.engine.tools import register_system_tool, register_tool_provider
        from integrations.cleanup import stored_files_of_bot
        from integrations.models import IntegrationTool
        from integrations.system_tools import ExportHttpResponseTool, RecallHttpResponseTool
        from integrations.tools import http_tools_for_bot
        from integrations.web_search import WebSearchTool

        register_tool_provider(http_tools_for_bot)
        register_system_tool(WebSearchTool())
        register_system_tool(RecallHttpResponseTool())
        register_system_tool(ExportHttpResponseTool())
        register_bot_files(stored_files_of_bot)
        register_encrypted_column(IntegrationTool, "headers_ciphertext", "integration tool headers")
        invalidate_on(IntegrationTool)  # the engine caches each bot's tool list (bots.config_cache)
