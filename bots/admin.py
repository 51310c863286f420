"""Admin for bots and provider keys. Secrets are entered once and shown only as a masked hint.

Apps that own rows of a bot (integration tools) add their inline to the bot's page from their own
`admin.py` with `register_bot_inline`: `bots` imports no other app.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin.options import InlineModelAdmin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from bots import crypto, network_policy
from bots.models import BOT_FIELD_GROUPS, Bot, ProviderKey
from bots.services import normalise_disabled_tools


class ProviderKeyAdminForm(forms.ModelForm):
    """The secret is a write-only field: required when adding, blank keeps the stored one."""

    secret = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        strip=True,
        help_text="Stored encrypted; never shown again. Leave blank to keep the current secret.",
    )
    base_url = forms.URLField(
        required=False,
        assume_scheme="https",
        max_length=500,
        help_text="Empty for api.openai.com; set for Ollama, vLLM, Azure…",
    )

    class Meta:
        model = ProviderKey
        fields = ("name", "provider", "base_url", "api_style")

    def clean_base_url(self) -> str:
        """The same rule as the API and the Studio: never a cloud-metadata or link-local address."""
        value = self.cleaned_data.get("base_url") or ""
        problem = network_policy.provider_base_url_problem(value)
        if problem:
            raise forms.ValidationError(problem)
        return value

    def clean(self):
        cleaned = super().clean()
        secret = cleaned.get("secret") or ""
        if not secret and self.instance._state.adding:
            self.add_error("secret", "Secret is required.")
        elif secret:
            try:
                self.instance.set_secret(secret)
            except crypto.SecretError as exc:
                self.add_error("secret", str(exc))
        return cleaned


@admin.register(ProviderKey)
class ProviderKeyAdmin(admin.ModelAdmin):
    form = ProviderKeyAdminForm
    list_display = ("name", "provider", "hint", "api_style", "base_url", "bot_count", "created_at")
    list_filter = ("provider", "api_style")
    search_fields = ("name", "hint", "base_url")
    readonly_fields = ("hint", "created_at", "updated_at")
    fields = ("name", "provider", "secret", "hint", "base_url", "api_style", "created_at", "updated_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[ProviderKey]:
        return super().get_queryset(request).annotate(bot_total=Count("bots"))

    @admin.display(description="bots", ordering="bot_total")
    def bot_count(self, key: ProviderKey) -> int:
        return key.bot_total


@admin.register(Bot)
class BotAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "openai_model",
        "asr_engine",
        "tts_vendor",
        "openai_key",
        "conversation_count",
        "tool_count",
        "updated_at",
    )
    list_select_related = ("openai_key",)
    list_filter = ("asr_engine", "tts_vendor", "start_message_mode", "openai_model")
    search_fields = ("name", "system_prompt")
    readonly_fields = ("id", "created_at", "updated_at")
    autocomplete_fields = ("openai_key",)
    inlines: tuple[type[InlineModelAdmin], ...] = ()  # filled by register_bot_inline
    fieldsets = (
        (None, {"fields": ("id",)}),
        *((legend, {"fields": names}) for legend, names in BOT_FIELD_GROUPS),
        ("Dates", {"fields": ("created_at", "updated_at")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Bot]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                conversation_total=Count("conversations", distinct=True), tool_total=Count("tools", distinct=True)
            )
        )

    @admin.display(description="conversations", ordering="conversation_total")
    def conversation_count(self, bot: Bot) -> int:
        return bot.conversation_total

    @admin.display(description="tools", ordering="tool_total")
    def tool_count(self, bot: Bot) -> int:
        return bot.tool_total

    def save_model(self, request: HttpRequest, obj: Bot, form, change: bool) -> None:
        obj.disabled_tools = normalise_disabled_tools(obj.disabled_tools)
        super().save_model(request, obj, form, change)


def register_bot_inline(inline: type[InlineModelAdmin]) -> None:
    """Show `inline` on the bot's admin page; called by the app that owns the inline's model."""
    if inline not in BotAdmin.inlines:
        BotAdmin.inlines = (*BotAdmin.inlines, inline)
