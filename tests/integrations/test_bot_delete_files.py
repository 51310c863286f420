"""Deleting a bot removes the files its conversations' tool calls left behind. `bots` does not know
these files: integrations registers them with `bots.services.register_bot_files` at start."""

from __future__ import annotations

import os

import pytest

from bots.services import bot_create, bot_delete
from conversations.services import conversation_start
from integrations.exports import export_create
from integrations.models import Export, SavedResponse
from integrations.saved import saved_response_create
from tests.integrations.conftest import make_tool


@pytest.mark.django_db(transaction=True)
def test_it_deletes_a_bots_saved_responses_and_exports_with_their_files(bot, conversation):
    tool = make_tool(bot, name="t", url="https://api.example.com/")
    saved = saved_response_create(conversation=conversation, tool=tool, payload={"data": [1]}, status_code=200)
    export, _token = export_create(conversation=conversation, saved=saved, fmt="csv", content=b"a\n1\n")
    other_bot = bot_create(name="Other")
    other = saved_response_create(
        conversation=conversation_start(bot=other_bot), tool=tool, payload={"x": 1}, status_code=200
    )
    paths = [saved.file.path, export.file.path]

    bot_delete(bot=bot)

    assert not any(os.path.exists(path) for path in paths)
    assert not Export.objects.exists()
    assert list(SavedResponse.objects.values_list("pk", flat=True)) == [other.pk]
    assert os.path.exists(other.file.path)
