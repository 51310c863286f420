"""Admin for Twilio accounts (auth token write-only, masked hint) and phone lines (inline on the bot)."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from bots import crypto
from bots.admin import register_bot_inline
from telephony.models import PhoneLine, TwilioAccount


class TwilioAccountAdminForm(forms.ModelForm):
    """The auth token is a write-only field: required when adding, blank keeps the stored one."""

    auth_token = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        strip=True,
        help_text="Twilio console → Account info. Stored encrypted; never shown again. Blank keeps the current one.",
    )

    class Meta:
        model = TwilioAccount
        fields = ("name", "account_sid")

    def clean(self):
        cleaned = super().clean()
        token = cleaned.get("auth_token") or ""
        if not token and self.instance._state.adding:
            self.add_error("auth_token", "Auth token is required.")
        elif token:
            try:
                self.instance.set_auth_token(token)
            except crypto.SecretError as exc:
                self.add_error("auth_token", str(exc))
        return cleaned


@admin.register(TwilioAccount)
class TwilioAccountAdmin(admin.ModelAdmin):
    form = TwilioAccountAdminForm
    list_display = ("name", "account_sid", "auth_token_hint", "updated_at")
    search_fields = ("name", "account_sid")
    readonly_fields = ("auth_token_hint", "created_at", "updated_at")
    fields = ("name", "account_sid", "auth_token", "auth_token_hint", "created_at", "updated_at")


class PhoneLineInline(admin.StackedInline):
    model = PhoneLine
    extra = 0
    max_num = 1
    fields = ("account", "accepts_calls", "record_audio")


register_bot_inline(PhoneLineInline)


@admin.register(PhoneLine)
class PhoneLineAdmin(admin.ModelAdmin):
    list_display = ("bot", "account", "accepts_calls", "record_audio", "updated_at")
    list_select_related = ("bot", "account")
    list_filter = ("accepts_calls", "record_audio")
    search_fields = ("bot__name", "account__name")
