"""REST routes of the embed app (mounted under /api/)."""

from django.urls import path

from embed.api import ClientKeyDetailApi, ClientKeyListCreateApi

urlpatterns = [
    path("client-keys", ClientKeyListCreateApi.as_view(), name="api-client-keys"),
    path("client-keys/<uuid:key_id>", ClientKeyDetailApi.as_view(), name="api-client-key"),
]
