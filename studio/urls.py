"""Every Studio page (mounted at /, namespace `studio`). Views live in `studio/views/`, one module per area."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from studio.views import bots as bots_views
from studio.views import conversations as conversations_views
from studio.views import integrations as integrations_views
from studio.views import keys as keys_views
from studio.views import latency as latency_views
from studio.views import voice_models as voice_models_views
from studio.views import voice_preview as voice_preview_views

app_name = "studio"

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="studio/login.html", redirect_authenticated_user=False),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", bots_views.dashboard, name="dashboard"),
    path("bots/", bots_views.dashboard, name="bot_list"),
    path("bots/new/", bots_views.bot_create_view, name="bot_create"),
    path("bots/<uuid:bot_id>/", bots_views.bot_edit, name="bot_edit"),
    path("bots/<uuid:bot_id>/delete/", bots_views.bot_delete_view, name="bot_delete"),
    path("bots/<uuid:bot_id>/system-tools/", bots_views.bot_system_tools, name="bot_system_tools"),
    path("bots/<uuid:bot_id>/voice-preview/", voice_preview_views.bot_voice_preview, name="bot_voice_preview"),
    path("bots/<uuid:bot_id>/models/", voice_models_views.bot_models_panel, name="bot_models"),
    path("bots/<uuid:bot_id>/models/download/", voice_models_views.bot_model_download, name="bot_model_download"),
    path("bots/<uuid:bot_id>/integrations/new/", integrations_views.integration_create, name="integration_create"),
    path(
        "bots/<uuid:bot_id>/integrations/validate/",
        integrations_views.integration_validate,
        name="integration_validate",
    ),
    path(
        "bots/<uuid:bot_id>/integrations/test-call/",
        integrations_views.integration_test_call,
        name="integration_test_call",
    ),
    path(
        "bots/<uuid:bot_id>/integrations/<uuid:tool_id>/", integrations_views.integration_edit, name="integration_edit"
    ),
    path(
        "bots/<uuid:bot_id>/integrations/<uuid:tool_id>/toggle/",
        integrations_views.integration_toggle,
        name="integration_toggle",
    ),
    path(
        "bots/<uuid:bot_id>/integrations/<uuid:tool_id>/delete/",
        integrations_views.integration_delete,
        name="integration_delete",
    ),
    path("keys/", keys_views.keys_page, name="keys"),
    path("keys/provider/", keys_views.provider_key_create_view, name="provider_key_create"),
    path("keys/provider/<uuid:key_id>/delete/", keys_views.provider_key_delete_view, name="provider_key_delete"),
    path("keys/provider/<uuid:key_id>/test/", keys_views.provider_key_test_view, name="provider_key_test"),
    path("keys/client/", keys_views.client_key_create_view, name="client_key_create"),
    path("keys/client/<uuid:key_id>/", keys_views.client_key_update_view, name="client_key_update"),
    path("keys/client/<uuid:key_id>/revoke/", keys_views.client_key_revoke_view, name="client_key_revoke"),
    path("latency/", latency_views.latency_page, name="latency"),
    path("conversations/", conversations_views.conversation_list, name="conversation_list"),
    path("conversations/<uuid:conversation_id>/", conversations_views.conversation_detail, name="conversation_detail"),
    path(
        "conversations/<uuid:conversation_id>/call.wav",
        conversations_views.call_recording,
        name="call_recording",
    ),
    path(
        "conversations/<uuid:conversation_id>/messages/<uuid:message_id>/audio.wav",
        conversations_views.message_audio,
        name="message_audio",
    ),
    path(
        "conversations/<uuid:conversation_id>/export.json",
        conversations_views.conversation_export,
        name="conversation_export",
    ),
]
