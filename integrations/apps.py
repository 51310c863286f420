from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "integrations"

    def ready(self) -> None:
        """Plug into the engine's tool registry: per-bot HTTP tools, then the system tools in the
        reference's order (set_metadata is registered by conversations, which loads first)."""
        from conversations.engine.tools import register_system_tool, register_tool_provider
        from integrations.system_tools import ExportHttpResponseTool, RecallHttpResponseTool
        from integrations.tools import http_tools_for_bot
        from integrations.web_search import WebSearchTool

        register_tool_provider(http_tools_for_bot)
        register_system_tool(WebSearchTool())
        register_system_tool(RecallHttpResponseTool())
        register_system_tool(ExportHttpResponseTool())
