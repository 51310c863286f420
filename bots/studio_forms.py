"""Studio forms for bots and provider keys.

The forms only parse and present: choices come from `bots.options.api_options()` (the same data as
`GET /api/options`), and saving goes through `bots.services`, whose `ValidationError`s are put back on
the matching fields by `apply_service_errors`.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.forms.models import construct_instance

from bots.models import BOT_FIELD_GROUPS, DEFAULT_CHAT_MODEL, Bot, ProviderKey
from bots.options import preferred_chat_model
from bots.selectors import default_provider_key

# Which fields belong to which engine; the page hides the others (data-show-if, studio.js).
XTTS_FIELDS = ("tts_language", "xtts_model", "speaker_id", "speaker_wav", "tts_split_sentences")
OPENAI_TTS_FIELDS = ("openai_tts_model", "openai_tts_voice", "openai_tts_speed")
PIPER_FIELDS = ("tts_voice",)

# The bot's field groups (bots.models.BOT_FIELD_GROUPS); `disabled_tools` has its own toggles on the page.
FIELDSETS = tuple(
    (legend, tuple(name for name in names if name != "disabled_tools")) for legend, names in BOT_FIELD_GROUPS
)


def _choices(values: list[str], current: str | None) -> list[tuple[str, str]]:
    """Option values plus the bot's current value when the list lacks it (never silently change a bot)."""
    items = list(values)
    if current and current not in items:
        items.insert(0, current)
    return [(v, v) for v in items]


class ProviderKeyChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: ProviderKey) -> str:
        return f"{obj.name} — {obj.hint}" if obj.hint else obj.name


class BotForm(forms.ModelForm):
    """Every editable Bot field. `disabled_tools` is edited by the system-tool toggles instead."""

    openai_key = ProviderKeyChoiceField(
        queryset=ProviderKey.objects.order_by("name"),
        required=False,
        empty_label="(use the server's OPENAI_API_KEY)",
        label="API key",
    )

    class Meta:
        model = Bot
        fields = [name for _legend, names in FIELDSETS for name in names]
        labels = {
            "openai_model": "Chat model",
            "web_search_model": "Web search model",
            "codex_model": "Codex model",
            "asr_engine": "ASR engine",
            "language": "ASR language",
            "tts_vendor": "TTS engine",
            "tts_voice": "Piper voice",
            "tts_language": "XTTS language",
            "xtts_model": "XTTS model",
            "speaker_id": "XTTS speaker",
            "speaker_wav": "Speaker WAV path (voice clone)",
            "openai_tts_model": "OpenAI TTS model",
            "openai_tts_voice": "OpenAI voice",
            "openai_tts_speed": "OpenAI speed",
            "tts_split_sentences": "XTTS: split sentences",
            "tts_chunk_min_chars": "Chunk min chars",
            "tts_chunk_max_chars": "Chunk max chars",
            "start_message_mode": "Greeting mode",
            "start_message_text": "Static greeting",
        }
        help_texts = {
            "web_search_model": "Used by web_search to filter and summarise results.",
            "codex_model": "Used by integrations with “Use Codex for response”.",
            "start_message_text": "Said first when the mode is Static; empty lets the model write the greeting.",
            "system_prompt": "Use metadata like {{.firstName}}.",
            "tts_chunk_min_chars": "Shortest text sent to TTS at once (first sentence starts speaking early).",
            "speaker_id": "`manage.py voicebot_tts_speakers` lists the model's speakers.",
            "tts_voice": "A Piper voice name (suggestions: the voices installed) or a local .onnx path.",
        }
        widgets = {
            "system_prompt": forms.Textarea(attrs={"rows": 8}),
            "start_message_text": forms.Textarea(attrs={"rows": 2}),
            "openai_tts_speed": forms.NumberInput(attrs={"step": "0.05", "min": "0.25", "max": "4"}),
        }

    def __init__(
        self,
        *args: Any,
        options: dict[str, Any],
        voices: dict[str, list[str]] | None = None,
        key_models: dict[str, list[str]] | None = None,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        bot = self.instance
        key_models = key_models or {}
        if bot._state.adding and not self.is_bound:
            self._new_bot_initial(key_models)
        if not settings.OPENAI_API_KEY:
            self.fields["openai_key"].empty_label = "(use the server's OPENAI_API_KEY) — not set on this server"
        # Any model name may be typed (an OpenAI-compatible server names its own); the suggestions are
        # the selected key's model list when known (studio.js swaps the list when the key changes).
        selected = str(self["openai_key"].value() or "")
        suggestions = f"models-{selected}" if key_models.get(selected) else "models-default"
        for name in ("openai_model", "web_search_model", "codex_model"):
            self.fields[name].widget = forms.TextInput(
                attrs={"list": suggestions, "data-model-suggestions": "", "autocomplete": "off", "spellcheck": "false"}
            )
        self.fields[
            "openai_model"
        ].help_text = "Any model name the key's server knows; the suggestions come from the key's model list."
        self.fields["language"].widget = forms.Select(choices=_choices(options.get("languages", []), bot.language))
        self.fields["tts_language"].widget = forms.Select(
            choices=_choices([x for x in options.get("languages", []) if x != "auto"], bot.tts_language)
        )
        self.fields["whisper_device"].widget = forms.Select(choices=_choices(options.get("whisper_devices", []), None))
        self.fields["xtts_model"].widget = forms.Select(
            choices=_choices(options.get("xtts_models", []), bot.xtts_model)
        )
        self.fields["openai_tts_model"].widget = forms.Select(
            choices=_choices(options.get("openai_tts_models", []), bot.openai_tts_model)
        )
        self.fields["openai_tts_voice"].widget = forms.Select(
            choices=_choices(options.get("openai_tts_voices", []), bot.openai_tts_voice)
        )
        # Free text with suggestions: a size name or a local model path / voice file.
        self.fields["whisper_model"].widget = forms.TextInput(attrs={"list": "whisper-models"})
        self.fields["tts_voice"].widget = forms.TextInput(
            attrs={"list": "piper-voices", "placeholder": "(default voice)"}
        )
        self.fields["speaker_id"].widget = forms.TextInput(attrs={"placeholder": "(auto: the model's first speaker)"})
        self.fields["speaker_wav"].widget = forms.TextInput(attrs={"placeholder": "/path/to/voice.wav"})
        self.datalists = {
            "whisper-models": options.get("whisper_models", []),
            "piper-voices": (voices or {}).get("piper", []),
            "models-default": options.get("openai_models", []),
            **{f"models-{key_id}": models for key_id, models in key_models.items() if models},
        }
        for name in XTTS_FIELDS:
            self.fields[name].widget.attrs["data-show-if"] = "tts_vendor=xtts"
        for name in OPENAI_TTS_FIELDS:
            self.fields[name].widget.attrs["data-show-if"] = "tts_vendor=openai"
        for name in PIPER_FIELDS:
            self.fields[name].widget.attrs["data-show-if"] = "tts_vendor=piper"
        self.fields["start_message_text"].widget.attrs["data-show-if"] = "start_message_mode=static"

    def _new_bot_initial(self, key_models: dict[str, list[str]]) -> None:
        """A new bot: the newest stored key, and a chat model that key's server lists."""
        key = default_provider_key()
        if key is None:
            return
        self.initial["openai_key"] = key.pk
        self.initial["openai_model"] = preferred_chat_model(key_models.get(str(key.pk)) or [], DEFAULT_CHAT_MODEL)

    def fieldsets(self) -> list[tuple[str, list[forms.BoundField]]]:
        return [(legend, [self[name] for name in names]) for legend, names in FIELDSETS]

    def service_fields(self) -> dict[str, Any]:
        """cleaned_data in the shape `bots.services.bot_create/bot_update` take (they save; the form never does)."""
        return dict(self.cleaned_data)

    def _post_clean(self) -> None:
        # Model field validators run here (all errors at once); the cross-field rules and DB
        # constraints are the service's, which names the field they concern.
        self.instance = construct_instance(self, self.instance, self._meta.fields, self._meta.exclude)
        try:
            self.instance.full_clean(
                exclude=self._get_validation_exclusions(), validate_unique=False, validate_constraints=False
            )
        except ValidationError as exc:
            self._update_errors(exc)


class ProviderKeyForm(forms.Form):
    name = forms.CharField(max_length=200, widget=forms.TextInput(attrs={"placeholder": "e.g. Personal"}))
    secret = forms.CharField(
        max_length=500,
        widget=forms.PasswordInput(attrs={"placeholder": "sk-…", "autocomplete": "off"}),
        help_text="Stored encrypted at rest; only a masked hint is shown afterwards.",
    )
    base_url = forms.URLField(
        required=False,
        assume_scheme="https",
        max_length=500,
        label="Base URL",
        widget=forms.URLInput(attrs={"placeholder": "empty = api.openai.com; e.g. http://127.0.0.1:11434/v1"}),
    )
    api_style = forms.ChoiceField(choices=ProviderKey.ApiStyle.choices, label="API style")


def apply_service_errors(form: forms.BaseForm, error: ValidationError) -> None:
    """Attach a service's ValidationError to the form: known fields inline, the rest on top."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, messages in error.message_dict.items():
        target = field if field in form.fields else ("openai_key" if field == "openai_key_id" else None)
        if target not in form.fields:
            target = None
        for message in messages:
            form.add_error(target, message if target else f"{field}: {message}")
