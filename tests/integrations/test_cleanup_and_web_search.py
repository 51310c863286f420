"""Expired files are cleaned up, the mock API answers like the reference's, and web_search works
through the OpenAI hosted search tool."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests
from asgiref.sync import async_to_sync
from django.core.management import call_command
from django.utils import timezone

from bots.services import bot_update
from conversations.engine.events import Done, Interim, ToolResult
from integrations.exports import export_create
from integrations.models import DownloadToken, Export, SavedResponse
from integrations.saved import saved_response_create
from tests.integrations.conftest import make_tool, run_turn_events


@pytest.mark.django_db
def test_cleanup_deletes_expired_tokens_exports_and_saved_response_files(bot, conversation, capsys):
    tool = make_tool(bot, name="t", url="https://api.example.com/")
    saved = saved_response_create(conversation=conversation, tool=tool, payload={"data": [{"a": 1}]}, status_code=200)
    export, token = export_create(conversation=conversation, saved=saved, fmt="csv", content=b"a\n1\n")
    fresh = saved_response_create(conversation=conversation, tool=tool, payload={"x": 1}, status_code=200)
    saved_path, export_path = saved.file.path, export.file.path
    past = timezone.now() - timedelta(minutes=1)
    # a state users cannot reach: files whose time is up
    SavedResponse.objects.filter(pk=saved.pk).update(expires_at=past)
    Export.objects.filter(pk=export.pk).update(expires_at=past)
    DownloadToken.objects.filter(pk=token.pk).update(expires_at=past)

    call_command("voicebot_cleanup")

    assert "tokens: 1, exports: 1, saved_responses: 1" in capsys.readouterr().out
    assert not DownloadToken.objects.exists() and not Export.objects.exists()
    assert list(SavedResponse.objects.values_list("pk", flat=True)) == [fresh.pk]
    import os

    assert not os.path.exists(saved_path) and not os.path.exists(export_path)


def test_the_mock_api_serves_the_reference_endpoints(mock_api):
    assert requests.get(mock_api.url + "/health", timeout=5).json() == {"ok": True}
    user = requests.get(mock_api.url + "/v1/user", params={"user_id": "u_1"}, timeout=5).json()["data"]
    assert (user["firstName"], user["lastName"], user["dob"]) == ("Kabir", "Verma", "1991-10-10")
    doctors = requests.get(
        mock_api.url + "/v1/doctors", params={"city": "mexico city", "sort": "name_asc"}, timeout=5
    ).json()["data"]
    assert [d["id"] for d in doctors] == ["d_001", "d_003"]


@pytest.mark.django_db(transaction=True)
def test_web_search_uses_the_hosted_search_tool_on_the_web_search_model(bot, conversation, openai_double):
    bot_update(bot=bot, disabled_tools=[])  # web search switched on, as in the Studio
    openai_double.queue_tool_call(
        "web_search", {"search_term": "django 5.2 release date", "why": "user asks", "wait_reply": "Searching."}
    )
    openai_double.queue_text("Django 5.2 was released in April 2025 (https://www.djangoproject.com/).")
    openai_double.queue_text("Django 5.2 came out in April 2025.")
    events = async_to_sync(run_turn_events)(conversation, "when was django 5.2 released?")

    search_request = openai_double.requests[1]
    assert search_request["tools"] == [{"type": "web_search"}]
    assert search_request["model"] == bot.web_search_model
    assert Interim(kind="progress", text="Searching the web…") in events
    result = [e for e in events if isinstance(e, ToolResult)][0].result
    assert result["ok"] is True and "April 2025" in result["summary"]
    assert [e for e in events if isinstance(e, Done)][-1].text == "Django 5.2 came out in April 2025."
    assert "April 2025" in json.dumps(openai_double.requests[2]["input"])
