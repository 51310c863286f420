"""Writes for bots and provider keys. The REST API, the Studio forms and the admin all call these,
so every rule (legacy values, normalisation, validation) lives here once.

Errors are django `ValidationError`s with a field dict; the DRF exception handler turns them into
400 `{"detail": "...", "<field>": [...]}` and Django forms can `add_error` them field by field.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import models, transaction

from bots import crypto
from bots.engines import LEGACY_ASR_ENGINES, LEGACY_TTS_VENDORS
from bots.models import BOT_EDITABLE_FIELDS, Bot, ProviderKey
from bots.rules import ALWAYS_ON_TOOLS, default_disabled_tools, is_tool_name
from bots.selectors import default_provider_key

KEY_IN_USE_MESSAGE = "Key is in use by one or more bots. Remove it from bots first."
ONLY_OPENAI_MESSAGE = "Only provider=openai is supported right now."

# Fields a client may set on a bot; `openai_key_id` / `openai_key` select the provider key.
BOT_FIELDS = tuple(name for name in BOT_EDITABLE_FIELDS if name != "openai_key")
_KEY_FIELDS = ("openai_key_id", "openai_key")
_NULLABLE = {field.name for field in Bot._meta.concrete_fields if field.null and field.name in BOT_FIELDS}
# Text typed into a one-line field is stripped; prompts and greetings (TextFields) keep their spacing.
_STRIPPED = {
    field.name
    for field in Bot._meta.concrete_fields
    if isinstance(field, models.CharField) and field.name in BOT_FIELDS
}


def normalise_disabled_tools(value: Any) -> list[str]:
    """Strip, drop blanks and always-on tools, de-duplicate, sort; reject anything but a list of names."""
    if value is None:
        return []
    if not isinstance(value, (list, tuple, set)):
        raise ValidationError({"disabled_tools": "Must be a list of tool names."})
    names: set[str] = set()
    for item in value:
        if not isinstance(item, str):
            raise ValidationError({"disabled_tools": "Must be a list of tool names."})
        name = item.strip()
        if not name or name in ALWAYS_ON_TOOLS:
            continue
        if not is_tool_name(name):
            raise ValidationError({"disabled_tools": f"{name!r} is not a valid tool name."})
        names.add(name)
    return sorted(names)


def _resolve_key(value: Any) -> ProviderKey | None:
    if value is None or value == "":
        return None
    if isinstance(value, ProviderKey):
        return value
    try:
        key_id = value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise ValidationError({"openai_key_id": "Must be a key id (UUID) or null."}) from None
    key = ProviderKey.objects.filter(pk=key_id).first()
    if key is None:
        raise ValidationError({"openai_key_id": f"No provider key with id {key_id}."})
    return key


def _clean_bot_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Normalise client values to model values; unknown or null-on-non-null fields are field errors."""
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for name, value in fields.items():
        if name in _KEY_FIELDS:
            continue
        if name not in BOT_FIELDS:
            errors.setdefault(name, []).append("Unknown field.")
            continue
        if isinstance(value, str) and name in _STRIPPED:
            value = value.strip()
        if name in _NULLABLE and value == "":
            value = None
        if value is None and name not in _NULLABLE:
            if name == "openai_tts_speed":
                value = 1.0  # the reference's rule: a null speed means "normal"
            elif name == "disabled_tools":
                value = []
            else:
                errors.setdefault(name, []).append("This field may not be null.")
                continue
        if name == "tts_vendor":
            value = LEGACY_TTS_VENDORS.get(value, value)
        elif name == "asr_engine":
            value = LEGACY_ASR_ENGINES.get(value, value)
        elif name == "disabled_tools":
            try:
                value = normalise_disabled_tools(value)
            except ValidationError as exc:
                errors.setdefault(name, []).extend(exc.message_dict["disabled_tools"])
                continue
        cleaned[name] = value
    if errors:
        raise ValidationError(errors)
    return cleaned


def _apply_and_save(bot: Bot, fields: dict[str, Any]) -> Bot:
    cleaned = _clean_bot_fields(fields)
    key_given = [k for k in _KEY_FIELDS if k in fields]
    if key_given:
        bot.openai_key = _resolve_key(fields[key_given[0]])
    for name, value in cleaned.items():
        setattr(bot, name, value)
    try:
        bot.full_clean(exclude=["openai_key"], validate_constraints=False)
    except ValidationError as exc:
        raise ValidationError(exc.message_dict) from None
    minimum, maximum = bot.tts_chunk_min_chars, bot.tts_chunk_max_chars
    if isinstance(minimum, int) and isinstance(maximum, int) and minimum > maximum:
        raise ValidationError({"tts_chunk_min_chars": "Must not be larger than tts_chunk_max_chars."})
    bot.save()
    return bot


@transaction.atomic
def bot_create(*, name: str, **fields: Any) -> Bot:
    """Create a bot. Omitted fields take the model defaults (web_search_model stays `gpt-4o-mini`,
    unlike the reference, which copied openai_model into it), and two defaults that depend on what is
    configured: no key given means the newest stored provider key (when there is one), and
    `disabled_tools` not given means the backend tools that have no backend (`bots.rules`)."""
    if not any(field in fields for field in _KEY_FIELDS):
        fields["openai_key"] = default_provider_key()
    fields.setdefault("disabled_tools", default_disabled_tools())
    return _apply_and_save(Bot(), {"name": name, **fields})


@transaction.atomic
def bot_update(*, bot: Bot, **fields: Any) -> Bot:
    """Apply only the given fields (a partial update); `updated_at` is bumped."""
    return _apply_and_save(bot, fields)


# Apps whose rows keep files for a bot's conversations (saved responses, exports) register a function
# bot -> storage names from their AppConfig.ready(); `bot_delete` removes those files after commit.
# `bots` imports no app above it, so it asks them rather than reading their models.
BotFilesCollector = Callable[[Bot], Iterable[str]]
_bot_file_collectors: list[BotFilesCollector] = []


def register_bot_files(collector: BotFilesCollector) -> None:
    """Add `collector` to what `bot_delete` asks for stored files (once, however often ready() runs)."""
    if collector not in _bot_file_collectors:
        _bot_file_collectors.append(collector)


def _stored_files_of(bot: Bot) -> list[str]:
    return [name for collector in _bot_file_collectors for name in collector(bot) if name]


def _delete_files(names: Iterable[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            pass  # a missing file is already gone; the cleanup job catches the rest


@transaction.atomic
def bot_delete(*, bot: Bot) -> None:
    """Delete a bot with its conversations, messages, tools and their saved files (files after commit)."""
    files = _stored_files_of(bot)
    bot.delete()
    transaction.on_commit(lambda: _delete_files(files))


@transaction.atomic
def provider_key_create(
    *,
    name: str,
    secret: str,
    provider: str = ProviderKey.Provider.OPENAI,
    base_url: str = "",
    api_style: str = ProviderKey.ApiStyle.RESPONSES,
) -> ProviderKey:
    """Store a provider key encrypted; only its masked hint is readable afterwards."""
    errors: dict[str, str] = {}
    provider = (provider or "").strip().lower()
    if provider != ProviderKey.Provider.OPENAI:
        errors["provider"] = ONLY_OPENAI_MESSAGE
    name = (name or "").strip()
    if not name:
        errors["name"] = "Name is required."
    secret = (secret or "").strip()
    if not secret:
        errors["secret"] = "Secret is required."
    from bots.network_policy import provider_base_url_problem

    base_url_problem = provider_base_url_problem(base_url)  # metadata/link-local servers are refused
    if base_url_problem:
        errors["base_url"] = base_url_problem
    if errors:
        raise ValidationError(errors)
    key = ProviderKey(provider=provider, name=name, base_url=(base_url or "").strip(), api_style=api_style or "")
    try:
        key.set_secret(secret)
    except crypto.SecretError as exc:
        raise ValidationError({"secret": str(exc)}) from None
    try:
        key.full_clean()
    except ValidationError as exc:
        raise ValidationError(exc.message_dict) from None
    key.save()
    return key


@transaction.atomic
def provider_key_delete(*, key: ProviderKey) -> None:
    """Refuse while a bot uses the key (the reference's message), else delete it."""
    if Bot.objects.filter(openai_key=key).exists():
        raise ValidationError(KEY_IN_USE_MESSAGE)
    key.delete()
