"""Telephony HTTP routes: the voice webhook Twilio calls when the bot's number rings."""

from django.urls import path

from telephony import views

app_name = "telephony"

urlpatterns = [
    path("telephony/twilio/<uuid:bot_id>/voice", views.twilio_voice, name="twilio-voice"),
]
