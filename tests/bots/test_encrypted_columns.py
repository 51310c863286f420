"""Every ciphertext column is registered for `voicebot_rotate_secrets` by the app that owns it
(`bots.crypto.register_encrypted_column` in its AppConfig.ready), so rotation leaves none behind."""

from __future__ import annotations

from django.apps import apps

from bots import crypto


def test_every_ciphertext_column_of_every_app_is_registered_once():
    columns = {
        (model, field.name)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if field.name.endswith("_ciphertext")
    }
    registered = [(entry.model, entry.column) for entry in crypto.encrypted_columns()]
    assert len(registered) == len(set(registered))
    assert set(registered) == columns


def test_registering_the_same_column_twice_keeps_one_entry():
    first = crypto.encrypted_columns()[0]
    crypto.register_encrypted_column(first.model, first.column, first.label)
    assert crypto.encrypted_columns().count(first) == 1
