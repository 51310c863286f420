"""REST routes of the conversations app (mounted under /api/)."""

from django.urls import path

from conversations import api

urlpatterns = [
    path("conversations", api.ConversationListApi.as_view(), name="api-conversations"),
    path("conversations/<uuid:conversation_id>", api.ConversationDetailApi.as_view(), name="api-conversation"),
]
