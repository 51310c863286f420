"""Codex mode, recall and export end to end: the Codex model (the OpenAI double) writes a script from
the response's shape, the script runs in the sandbox over the saved data, and exports are downloaded
through their token URL."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.utils import timezone

from conversations.engine.events import Done, ToolResult
from integrations.models import DownloadToken
from tests.integrations.conftest import make_tool, run_turn_events

pytestmark = pytest.mark.django_db(transaction=True)

NAMES_SCRIPT = """
import json, sys
data = json.load(open(sys.argv[1]))
names = [d["name"] for d in data["data"]]
open(sys.argv[2], "w").write("Doctors: " + ", ".join(names))
print('__IGX_STATUS__={"next_step": "STOP", "STOP_REASON": "NAMES_LISTED"}')
"""
USER_SCRIPT = """
import json, sys
user = json.load(open(sys.argv[1]))["data"]
open(sys.argv[2], "w").write(user["firstName"] + " " + user["lastName"] + ", born " + user["dob"])
"""
CSV_SCRIPT = """
import csv, json, sys
rows = json.load(open(sys.argv[1]))["data"]
with open(sys.argv[2], "w", newline="") as out:
    writer = csv.writer(out)
    writer.writerow(["name", "city", "rating"])
    for d in sorted(rows, key=lambda d: -d["rating"]):
        writer.writerow([d["name"], d["city"], d["rating"]])
"""


def codex_reply(script: str) -> str:
    return json.dumps({"STOP_REASON": "DONE", "CONTINUE_REASON": "", "next_step": "STOP", "script": script})


def turn(conversation, text):
    return async_to_sync(run_turn_events)(conversation, text)


def results(events):
    return [e for e in events if isinstance(e, ToolResult)]


def done_text(events):
    return [e for e in events if isinstance(e, Done)][-1].text


def test_codex_mode_answers_from_a_model_written_script_without_showing_the_data_to_any_model(
    bot, conversation, mock_api, allow_loopback, openai_double
):
    make_tool(
        bot,
        name="find_doctors",
        url=mock_api.url + "/v1/doctors?city={{args.city}}",
        use_codex_response=True,
    )
    openai_double.queue_tool_call(
        "find_doctors",
        {"args": {"city": "Mexico City", "fields_required": "doctor names", "why_api_was_called": "find a doctor"}},
    )
    openai_double.queue_text(codex_reply(NAMES_SCRIPT))
    openai_double.queue_text("I found Dr. Maya Patel and Dr. Sofia Martínez.")
    events = turn(conversation, "doctors in Mexico City?")

    result = results(events)[0].result
    assert result["codex_ok"] is True
    assert result["codex_result_text"] == "Doctors: Dr. Sofia Martínez, Dr. Maya Patel"
    assert result["codex_stop_reason"] == "NAMES_LISTED"
    assert done_text(events) == "I found Dr. Maya Patel and Dr. Sofia Martínez."
    codex_request = openai_double.requests[1]
    assert codex_request["model"] == bot.codex_model
    assert codex_request["text"]["format"]["type"] == "json_schema"
    assert "Maya" not in json.dumps(codex_request)  # only the shape, never the data
    assert "5555" not in json.dumps(openai_double.requests[2])  # the main model never sees raw fields


def test_recall_answers_about_a_normal_tools_saved_response(bot, conversation, mock_api, allow_loopback, openai_double):
    make_tool(bot, name="lookup_user", url=mock_api.url + "/v1/user?user_id={{args.user_id}}")
    openai_double.queue_tool_call("lookup_user", {"args": {"user_id": "u_1"}, "next_reply": "Found you."})
    turn(conversation, "look me up")

    openai_double.queue_tool_call(
        "recall_http_response",
        {"source_tool_name": "lookup_user", "fields_required": "full name, dob", "why_api_was_called": "user asks"},
    )
    openai_double.queue_text(codex_reply(USER_SCRIPT))
    openai_double.queue_text("You are Kabir Verma, born on 10 October 1991.")
    events = turn(conversation, "what is my full name and birthday?")

    result = results(events)[0].result
    assert result["ok"] is True and result["codex_ok"] is True
    assert result["codex_result_text"] == "Kabir Verma, born 1991-10-10"
    assert done_text(events) == "You are Kabir Verma, born on 10 October 1991."


def test_recall_says_when_nothing_was_saved(bot, conversation, openai_double):
    openai_double.queue_tool_call(
        "recall_http_response", {"source_tool_name": "nope", "fields_required": "x", "why_api_was_called": "y"}
    )
    openai_double.queue_text("I have nothing saved for that.")
    events = turn(conversation, "recall")
    assert results(events)[0].ok is False
    assert "No saved response" in results(events)[0].result["error"]["message"]


def _look_up_doctors(bot, conversation, mock_api, openai_double):
    make_tool(bot, name="find_doctors", url=mock_api.url + "/v1/doctors")
    openai_double.queue_tool_call("find_doctors", {"args": {}, "next_reply": "Here they are."})
    turn(conversation, "list doctors")


def test_a_csv_export_written_by_codex_downloads_through_its_token_url(
    bot, conversation, mock_api, allow_loopback, openai_double, anonymous_client, settings
):
    settings.VOICEBOT_DOWNLOAD_BASE_URL = "https://bots.example.com/"
    _look_up_doctors(bot, conversation, mock_api, openai_double)
    openai_double.queue_tool_call(
        "export_http_response",
        {
            "source_tool_name": "find_doctors",
            "export_request": "name, city, rating; best first",
            "output_format": "csv",
            "file_name_hint": "../../etc/doctors list.csv",
        },
    )
    openai_double.queue_text(codex_reply(CSV_SCRIPT))
    openai_double.queue_text("Your file is ready.")
    events = turn(conversation, "export them as CSV")

    result = results(events)[0].result
    assert result["export_ok"] is True and result["export_method"] == "codex"
    assert result["download_url"] == f"https://bots.example.com/api/downloads/{result['download_token']}"
    response = anonymous_client.get(f"/api/downloads/{result['download_token']}")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"] == 'attachment; filename="doctors list.csv"'
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0] == "name,city,rating"
    assert lines[1] == "Dr. Sofia Martínez,Mexico City,4.8"


def test_a_json_export_falls_back_to_the_builtin_exporter_when_codex_fails(
    bot, conversation, mock_api, allow_loopback, openai_double, anonymous_client
):
    _look_up_doctors(bot, conversation, mock_api, openai_double)
    openai_double.queue_tool_call(
        "export_http_response",
        {"source_tool_name": "find_doctors", "export_request": "everything", "output_format": "json"},
    )
    openai_double.queue_text(codex_reply("import sys\nsys.exit(3)\n"))
    openai_double.queue_text("Here is your JSON file.")
    events = turn(conversation, "export as JSON")

    result = results(events)[0].result
    assert result["export_ok"] is True and result["export_method"] == "builtin"
    response = anonymous_client.get(f"/api/downloads/{result['download_token']}")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == 'attachment; filename="export.json"'
    rows = json.loads(b"".join(response.streaming_content))
    assert [r["id"] for r in rows] == ["d_003", "d_001", "d_004", "d_002"]  # the API sorts by rating


def test_download_tokens_expire_and_unknown_tokens_are_404(
    bot, conversation, mock_api, allow_loopback, openai_double, anonymous_client
):
    _look_up_doctors(bot, conversation, mock_api, openai_double)
    openai_double.queue_tool_call(
        "export_http_response", {"source_tool_name": "find_doctors", "export_request": "all", "output_format": "csv"}
    )
    openai_double.queue_error(500)  # Codex unavailable: built-in CSV
    openai_double.queue_text("Ready.")
    token = results(turn(conversation, "export"))[0].result["download_token"]
    assert anonymous_client.get(f"/api/downloads/{token}").status_code == 200

    DownloadToken.objects.filter(token=token).update(expires_at=timezone.now() - timedelta(seconds=1))
    expired = anonymous_client.get(f"/api/downloads/{token}")
    assert expired.status_code == 404
    assert expired.json() == {"detail": "Download token not found or expired."}
    assert anonymous_client.get("/api/downloads/not-a-real-token-at-all").status_code == 404
    assert anonymous_client.get("/api/downloads/..%2F..%2Fetc%2Fpasswd").status_code == 404
