"""No Celery worker answers a Codex run (it died, or none is running): after the timeout the tool
result says so clearly, the model still answers the user, and the saved API response is kept."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync

from config.celery import app as celery_app
from conversations.engine.events import Done, ToolResult
from integrations.models import SavedResponse
from tests.integrations.conftest import make_tool, run_turn_events

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def no_worker(settings):
    """Tasks go to an in-memory broker that no worker reads; short timeouts."""
    settings.VOICEBOT_CODEX_TIMEOUT_S = 1
    settings.VOICEBOT_SANDBOX_WALL_SECONDS = 1
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    yield
    celery_app.conf.task_always_eager = eager


def test_a_codex_run_nobody_picks_up_ends_with_a_clear_error_and_an_answer(
    bot, conversation, mock_api, allow_loopback, openai_double, no_worker
):
    make_tool(bot, name="find_doctors", url=mock_api.url + "/v1/doctors?city={{args.city}}", use_codex_response=True)
    openai_double.queue_tool_call(
        "find_doctors", {"args": {"city": "Pune", "fields_required": "names", "why_api_was_called": "find a doctor"}}
    )
    script = "open(__import__('sys').argv[2], 'w').write('x')"
    openai_double.queue_text(
        json.dumps({"STOP_REASON": "", "CONTINUE_REASON": "", "next_step": "STOP", "script": script})
    )
    openai_double.queue_text("Sorry, I could not read the doctor list just now.")

    events = async_to_sync(run_turn_events)(conversation, "Doctors in Pune?")

    result = next(e for e in events if isinstance(e, ToolResult)).result
    assert result["codex_ok"] is False
    assert "did not answer" in result["codex_error"]
    assert [e for e in events if isinstance(e, Done)][-1].text == "Sorry, I could not read the doctor list just now."
    assert SavedResponse.objects.filter(conversation=conversation, tool_name="find_doctors").count() == 1
