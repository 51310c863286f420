"""One list of a bot's editable fields (bots.models.BOT_FIELD_GROUPS): every surface derives from it."""

from __future__ import annotations

from django.contrib import admin

from bots.models import BOT_EDITABLE_FIELDS, Bot
from bots.serializers import BOT_OUTPUT_FIELDS, BOT_WIRE_FIELDS, BotInputSerializer
from bots.services import BOT_FIELDS
from bots.studio_forms import BotForm


def _model_editable_fields() -> set[str]:
    return {
        field.name
        for field in Bot._meta.concrete_fields
        if field.editable and not field.primary_key and field.name not in {"created_at", "updated_at"}
    }


def test_it_lists_every_editable_model_field_once():
    assert len(BOT_EDITABLE_FIELDS) == len(set(BOT_EDITABLE_FIELDS))
    assert set(BOT_EDITABLE_FIELDS) == _model_editable_fields()


def test_the_api_reads_and_writes_the_same_fields():
    assert set(BotInputSerializer().fields) == set(BOT_WIRE_FIELDS)
    assert set(BOT_OUTPUT_FIELDS) == {"id", *BOT_WIRE_FIELDS, "created_at", "updated_at"}
    assert set(BOT_FIELDS) == set(BOT_EDITABLE_FIELDS) - {"openai_key"}


def test_the_studio_form_edits_every_field_but_the_tool_toggles():
    assert set(BotForm._meta.fields) == set(BOT_EDITABLE_FIELDS) - {"disabled_tools"}


def test_the_admin_shows_every_field():
    fieldsets = admin.site._registry[Bot].fieldsets
    shown = {name for _legend, options in fieldsets for name in options["fields"]}
    assert shown == {"id", *BOT_EDITABLE_FIELDS, "created_at", "updated_at"}
