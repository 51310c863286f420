"""Studio forms for client keys (embed). Validation of origins and bot ids is `embed.services`'s job."""

from __future__ import annotations

from django import forms

from bots.models import Bot
from embed.services import EmbedInputError


class ClientKeyForm(forms.Form):
    name = forms.CharField(max_length=200, widget=forms.TextInput(attrs={"placeholder": "e.g. Acme Website"}))
    allowed_origins = forms.CharField(
        required=False,
        max_length=4000,
        label="Allowed origins",
        help_text="Comma-separated, e.g. https://acme.com, https://*.acme.com. Empty: any origin.",
        widget=forms.TextInput(attrs={"placeholder": "https://acme.com, https://www.acme.com"}),
    )
    allowed_bot_ids = forms.ModelMultipleChoiceField(
        queryset=Bot.objects.order_by("name"),
        required=False,
        label="Allowed bots",
        help_text="None ticked: every bot.",
        widget=forms.CheckboxSelectMultiple,
    )
    show_turn_details = forms.BooleanField(
        required=False,
        label="Show model, tokens and cost in the widget",
        help_text="Off: visitors see only the replies (what a public site usually wants).",
    )

    def service_fields(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "allowed_origins": data.get("allowed_origins", ""),
            "allowed_bot_ids": [str(bot.pk) for bot in data.get("allowed_bot_ids") or []],
            "show_turn_details": bool(data.get("show_turn_details")),
        }

    def add_service_error(self, error: EmbedInputError) -> None:
        """Put the service's message on the field it names (its messages start with the field)."""
        message = str(error)
        if message.startswith("allowed_bot_ids"):
            self.add_error("allowed_bot_ids", message.split(":", 1)[-1].strip())
        elif message.lower().startswith("name"):
            self.add_error("name", message)
        else:
            self.add_error("allowed_origins", message)


class ClientKeyUpdateForm(ClientKeyForm):
    """Same fields; the name stays required so a key always has a label."""
