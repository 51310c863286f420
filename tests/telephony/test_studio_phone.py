"""The Studio: the bot page's Phone section and the conversation list's masked caller numbers."""

from __future__ import annotations

import io

from cryptography.fernet import Fernet
from django.core.management import call_command

from conversations.services import conversation_merge_metadata, conversation_start
from telephony.models import TwilioAccount
from telephony.services import phone_line_save, twilio_account_create

TOKEN = "studio-test-auth-token-0123456789"


def _line(bot):
    account = twilio_account_create(name="Main", account_sid="AC" + "2" * 32, auth_token=TOKEN)
    return phone_line_save(bot=bot, account=account)


def test_the_bot_page_shows_the_webhook_url_and_only_the_token_hint(staff_client, bot, settings):
    settings.VOICEBOT_PUBLIC_BASE_URL = "https://voice.example.com"
    _line(bot)
    page = staff_client.get(f"/bots/{bot.pk}/").content.decode()
    assert f"https://voice.example.com/telephony/twilio/{bot.pk}/voice" in page
    assert "stud********6789" in page
    assert TOKEN not in page


def test_the_conversation_list_shows_the_caller_masked(staff_client, bot):
    conversation = conversation_start(bot=bot, test_flag=False)
    conversation_merge_metadata(conversation=conversation, patch={"phone": {"caller": "+15551234567"}})
    page = staff_client.get("/conversations/").content.decode()
    assert "+1 ••• ••• 4567" in page
    assert "5551234567" not in page


def test_secret_rotation_re_encrypts_twilio_auth_tokens(bot, settings):
    account = _line(bot).account
    new_key = Fernet.generate_key().decode()
    settings.VOICEBOT_SECRET_KEY = f"{new_key},{settings.VOICEBOT_SECRET_KEY}"
    out = io.StringIO()
    call_command("voicebot_rotate_secrets", stdout=out)
    assert "Re-encrypted 1 Twilio auth tokens" in out.getvalue()
    settings.VOICEBOT_SECRET_KEY = new_key  # the old key is gone: the token must still decrypt
    assert TwilioAccount.objects.get(pk=account.pk).get_auth_token() == TOKEN
