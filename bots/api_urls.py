"""REST routes of the bots app (mounted under /api/)."""

from django.urls import path

from bots import api

urlpatterns = [
    path("options", api.OptionsApi.as_view(), name="api-options"),
    path("bots", api.BotListApi.as_view(), name="api-bots"),
    path("bots/<uuid:bot_id>", api.BotDetailApi.as_view(), name="api-bot"),
    path("keys", api.ProviderKeyListApi.as_view(), name="api-keys"),
    path("keys/<uuid:key_id>", api.ProviderKeyDetailApi.as_view(), name="api-key"),
]
