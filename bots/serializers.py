"""Wire shapes of bots and provider keys (the reference's JSON field names).

Input serializers only parse types; the rules live in `bots.services`, shared with the Studio forms.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from bots.engines import tts_vendor_as_sent
from bots.models import BOT_EDITABLE_FIELDS, DEFAULT_CODEX_MODEL, DEFAULT_XTTS_MODEL, Bot, ProviderKey
from bots.selectors import bot_stats

# `bots.models.BOT_EDITABLE_FIELDS` on the wire: the key as `openai_key_id`, plus id and dates.
BOT_WIRE_FIELDS = tuple("openai_key_id" if name == "openai_key" else name for name in BOT_EDITABLE_FIELDS)
BOT_OUTPUT_FIELDS = ("id", *BOT_WIRE_FIELDS, "created_at", "updated_at")


class BotOutputSerializer(serializers.ModelSerializer):
    openai_key_id = serializers.UUIDField(allow_null=True, read_only=True)
    disabled_tools = serializers.SerializerMethodField()
    openai_tts_speed = serializers.FloatField()

    class Meta:
        model = Bot
        fields = BOT_OUTPUT_FIELDS
        read_only_fields = BOT_OUTPUT_FIELDS

    def get_disabled_tools(self, bot: Bot) -> list[str]:
        return sorted(name for name in (bot.disabled_tools or []) if isinstance(name, str))

    def to_representation(self, bot: Bot) -> dict[str, Any]:
        data = super().to_representation(bot)
        # context["sent"]: the request's fields; a legacy engine name comes back as it was sent
        data["tts_vendor"] = tts_vendor_as_sent(self.context.get("sent", {}).get("tts_vendor"), data["tts_vendor"])
        return data


class BotStatsSerializer(serializers.Serializer):
    conversations = serializers.IntegerField()
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    cost_usd = serializers.FloatField()
    avg_llm_ttfb_ms = serializers.IntegerField(allow_null=True)
    avg_llm_total_ms = serializers.IntegerField(allow_null=True)
    avg_total_ms = serializers.IntegerField(allow_null=True)


class BotWithStatsOutputSerializer(BotOutputSerializer):
    """A bot from `bot_list_with_stats()`, with the reference's `stats` object."""

    stats = serializers.SerializerMethodField()

    class Meta(BotOutputSerializer.Meta):
        fields = (*BOT_OUTPUT_FIELDS, "stats")
        read_only_fields = fields

    @extend_schema_field(BotStatsSerializer)
    def get_stats(self, bot: Bot) -> dict[str, Any]:
        return bot_stats(bot)


class BotInputSerializer(serializers.Serializer):
    """Every field optional (PUT is partial); `name` is required on create (see BotCreateInputSerializer).

    One field per name in BOT_WIRE_FIELDS, each with its wire type (tests/bots/test_bot_fields.py checks).
    """

    name = serializers.CharField(max_length=200, required=False)
    system_prompt = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    openai_model = serializers.CharField(max_length=200, required=False)
    web_search_model = serializers.CharField(max_length=200, required=False, help_text="Default gpt-4o-mini.")
    codex_model = serializers.CharField(max_length=200, required=False, help_text=f"Default {DEFAULT_CODEX_MODEL}.")
    disabled_tools = serializers.ListField(
        child=serializers.CharField(allow_blank=True, max_length=64), required=False, allow_null=True
    )
    openai_key_id = serializers.UUIDField(required=False, allow_null=True)
    asr_engine = serializers.CharField(
        max_length=32, required=False, help_text="faster_whisper or whisper (legacy whisper_local is accepted)."
    )
    language = serializers.CharField(max_length=16, required=False)
    whisper_model = serializers.CharField(max_length=500, required=False)
    whisper_device = serializers.ChoiceField(choices=Bot.WhisperDevice.choices, required=False)
    tts_vendor = serializers.CharField(
        max_length=32,
        required=False,
        help_text="piper, xtts or openai (legacy xtts_local and openai_tts are accepted).",
    )
    tts_language = serializers.CharField(max_length=16, required=False)
    tts_voice = serializers.CharField(max_length=500, required=False, allow_blank=True)
    xtts_model = serializers.CharField(max_length=200, required=False, help_text=f"Default {DEFAULT_XTTS_MODEL}.")
    speaker_wav = serializers.CharField(max_length=500, required=False, allow_blank=True, allow_null=True)
    speaker_id = serializers.CharField(max_length=200, required=False, allow_blank=True, allow_null=True)
    openai_tts_model = serializers.CharField(max_length=100, required=False)
    openai_tts_voice = serializers.CharField(max_length=100, required=False)
    openai_tts_speed = serializers.FloatField(required=False, allow_null=True, help_text="null means 1.0")
    tts_split_sentences = serializers.BooleanField(required=False)
    tts_chunk_min_chars = serializers.IntegerField(required=False)
    tts_chunk_max_chars = serializers.IntegerField(required=False)
    start_message_mode = serializers.ChoiceField(choices=Bot.StartMode.choices, required=False)
    start_message_text = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)


class BotCreateInputSerializer(BotInputSerializer):
    name = serializers.CharField(max_length=200)


class ProviderKeyOutputSerializer(serializers.ModelSerializer):
    """Never the secret: only its masked hint."""

    class Meta:
        model = ProviderKey
        fields = ("id", "provider", "name", "hint", "base_url", "api_style", "created_at")
        read_only_fields = fields


class ProviderKeyInputSerializer(serializers.Serializer):
    provider = serializers.CharField(default=ProviderKey.Provider.OPENAI, help_text="Only openai.")
    name = serializers.CharField(max_length=200)
    secret = serializers.CharField(write_only=True, max_length=4000, style={"input_type": "password"})
    base_url = serializers.CharField(
        required=False, allow_blank=True, max_length=500, help_text="OpenAI-compatible server; empty for OpenAI."
    )
    api_style = serializers.ChoiceField(choices=ProviderKey.ApiStyle.choices, required=False)


class OkSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
