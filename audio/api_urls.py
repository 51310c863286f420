"""REST routes of the audio app (mounted under /api/)."""

from django.urls import path

from audio import api

urlpatterns = [
    path("bots/<uuid:bot_id>/talk/stream", api.TalkStreamApi.as_view(), name="api-bot-talk-stream"),
    path("tts/meta", api.TtsMetaApi.as_view(), name="api-tts-meta"),
]
