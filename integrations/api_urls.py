"""REST routes of the integrations app (mounted under /api/)."""

from django.urls import path

from integrations import api

urlpatterns = [
    path("bots/<uuid:bot_id>/tools", api.ToolListApi.as_view(), name="api-bot-tools"),
    path("bots/<uuid:bot_id>/tools/<uuid:tool_id>", api.ToolDetailApi.as_view(), name="api-bot-tool"),
]
