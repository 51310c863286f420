"""REST routes of the conversations app (mounted under /api/)."""

from django.urls import path

from conversations import api, api_chat

urlpatterns = [
    path("conversations", api.ConversationListApi.as_view(), name="api-conversations"),
    path("conversations/<uuid:conversation_id>", api.ConversationDetailApi.as_view(), name="api-conversation"),
    path("bots/<uuid:bot_id>/chat", api_chat.BotChatApi.as_view(), name="api-bot-chat"),
    path("bots/<uuid:bot_id>/chat/stream", api_chat.BotChatStreamApi.as_view(), name="api-bot-chat-stream"),
]
