"""ClientKey admin: create a key (the secret is shown once, in a message), edit origins and bots, revoke.

The hash and the encrypted signing secret are never displayed.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from embed import services
from embed.models import ClientKey


class ClientKeyForm(forms.ModelForm):
    allowed_bot_ids = forms.JSONField(required=False, initial=list, help_text="A JSON list of bot ids; [] for all.")

    class Meta:
        model = ClientKey
        fields = ["name", "allowed_origins", "allowed_bot_ids"]

    def clean_allowed_origins(self):
        try:
            return services.normalise_origins(self.cleaned_data.get("allowed_origins") or "")
        except services.EmbedInputError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean_allowed_bot_ids(self):
        try:
            return services.normalise_bot_ids(self.cleaned_data.get("allowed_bot_ids") or [])
        except services.EmbedInputError as exc:
            raise forms.ValidationError(str(exc)) from exc


@admin.register(ClientKey)
class ClientKeyAdmin(admin.ModelAdmin):
    form = ClientKeyForm
    list_display = ["name", "hint", "allowed_origins", "created_at", "last_used_at", "is_active"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "hint"]
    readonly_fields = ["hint", "created_at", "updated_at", "last_used_at", "revoked_at"]
    actions = ["revoke_selected"]

    @admin.display(boolean=True, description="active")
    def is_active(self, key: ClientKey) -> bool:
        return key.revoked_at is None

    def save_model(self, request, obj: ClientKey, form, change):
        if change:
            obj.save()
            return
        key, secret, signing_secret = services.client_key_create(
            name=obj.name, allowed_origins=obj.allowed_origins, allowed_bot_ids=obj.allowed_bot_ids
        )
        obj.pk = key.pk
        obj.__dict__.update({k: v for k, v in key.__dict__.items() if not k.startswith("_")})
        obj._state.adding = False
        messages.warning(
            request,
            f"Client key secret (shown once, copy it now): {secret}  ·  signing secret for user_token: {signing_secret}",
        )

    @admin.action(description="Revoke selected client keys")
    def revoke_selected(self, request, queryset):
        keys = list(queryset.filter(revoked_at__isnull=True))
        for key in keys:  # the service, so open sockets see the revocation at their next message
            services.client_key_revoke(key)
        self.message_user(request, f"Revoked {len(keys)} client key(s).")
