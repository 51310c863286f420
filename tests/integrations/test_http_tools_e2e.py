"""HTTP integration tools end to end: the real engine (`run_turn`) and the real openai SDK against the
loopback OpenAI double, calling the loopback mock API through the SSRF-guarded egress."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync

from conversations.engine.events import Done, Interim, ToolResult
from tests.integrations.conftest import make_tool, run_turn_events
from tests.user_data import conversation_with

pytestmark = pytest.mark.django_db(transaction=True)


def turn(conversation, text):
    return async_to_sync(run_turn_events)(conversation, text)


def done_text(events):
    return [e for e in events if isinstance(e, Done)][-1].text


def tool_results(events):
    return [e for e in events if isinstance(e, ToolResult)]


def test_it_calls_a_get_tool_with_url_args_maps_nested_metadata_and_says_next_reply(
    bot, conversation, mock_api, allow_loopback, openai_double
):
    make_tool(
        bot,
        name="lookup_user",
        url=mock_api.url + "/v1/user?user_id={{args.user_id}}",
        args_required=["user_id"],
        response_mapper={"firstName": "{{response.data.firstName}}", "profile.dob": "{{response.data.dob}}"},
    )
    openai_double.queue_tool_call(
        "lookup_user",
        {
            "args": {"user_id": "u_1"},
            "wait_reply": "One moment.",
            "next_reply": "Hi {{.firstName}}, born {{.profile.dob}}.",
        },
    )
    events = turn(conversation, "look me up, I am u_1")

    assert done_text(events) == "Hi Kabir, born 1991-10-10."
    assert Interim(kind="wait", text="One moment.") in events
    conversation.refresh_from_db()
    assert conversation.metadata == {"firstName": "Kabir", "profile": {"dob": "1991-10-10"}}
    result = tool_results(events)[0].result
    assert result["ok"] is True and "ssn" not in json.dumps(result)  # the raw response never goes to the model


def test_it_url_encodes_values_and_sends_only_unconsumed_args_as_query(
    bot, conversation, mock_api, allow_loopback, openai_double
):
    make_tool(
        bot,
        name="echo",
        url=mock_api.url + "/v1/echo?id={{args.id}}",
        response_mapper={"seen": "{{response.query}}"},
    )
    openai_double.queue_tool_call(
        "echo",
        {
            "args": {"id": "a&admin=true", "city": "São Paulo", "tags": ["x", "y"], "filter": {"a": 1}},
            "next_reply": "Done.",
        },
    )
    turn(conversation, "echo")
    conversation.refresh_from_db()
    assert conversation.metadata["seen"] == {
        "id": ["a&admin=true"],
        "city": ["São Paulo"],
        "tags": ["x", "y"],
        "filter": ['{"a": 1}'],
    }


def test_it_posts_a_json_body_whose_values_hold_quotes_and_sends_headers_from_metadata(
    bot, mock_api, allow_loopback, openai_double
):
    conversation = conversation_with(bot, metadata={"token": 'tok"123', "patient": "Ana"})
    make_tool(
        bot,
        name="book",
        method="POST",
        url=mock_api.url + "/v1/echo",
        headers={"X-User-Token": "{{.token}}", "Authorization": "Bearer secret-abc"},
        request_body_template='{"doctor_id": "{{args.doctor_id}}", "patient": "{{.patient}}", '
        '"note": "{{args.note}}", "slots": {{args.slots}}}',
        response_mapper={"sent": "{{response.json}}", "headers": "{{response.headers}}"},
    )
    note = 'He said "hi" \\ then left}, "admin": true'
    openai_double.queue_tool_call(
        "book", {"args": {"doctor_id": "d_001", "note": note, "slots": [1, 2]}, "next_reply": "Booked."}
    )
    events = turn(conversation, "book it")

    assert done_text(events) == "Booked."
    conversation.refresh_from_db()
    assert conversation.metadata["sent"] == {"doctor_id": "d_001", "patient": "Ana", "note": note, "slots": [1, 2]}
    assert conversation.metadata["headers"]["X-User-Token"] == 'tok"123'
    assert conversation.metadata["headers"]["Authorization"] == "Bearer secret-abc"


def test_a_static_jinja2_reply_takes_priority_over_next_reply(
    bot, conversation, mock_api, allow_loopback, openai_double
):
    make_tool(
        bot,
        name="lookup_user",
        url=mock_api.url + "/v1/user?user_id={{args.user_id}}",
        response_mapper={"firstName": "{{response.data.firstName}}"},
        static_reply_template="{% if .firstName %}Found {{ .firstName | upper }} {{ response.data.lastName }}"
        " (see example .com).{% endif %}",
    )
    openai_double.queue_tool_call("lookup_user", {"args": {"user_id": "u_1"}, "next_reply": "Not this one."})
    events = turn(conversation, "who am I")
    assert done_text(events) == "Found KABIR Verma (see example .com)."
    assert len(openai_double.requests) == 1  # no follow-up model call


def test_a_schema_violation_goes_back_to_the_model_which_corrects_it_on_the_next_step(
    bot, conversation, mock_api, allow_loopback, openai_double
):
    make_tool(
        bot,
        name="lookup_user",
        url=mock_api.url + "/v1/user?user_id={{args.user_id}}",
        parameters_schema={
            "type": "object",
            "properties": {"user_id": {"type": "string", "pattern": "^u_[0-9]+$"}},
            "required": ["user_id"],
        },
        response_mapper={"firstName": "{{response.data.firstName}}"},
    )
    openai_double.queue_tool_call("lookup_user", {"args": {"user_id": 1}, "next_reply": "Hi {{.firstName}}"})
    openai_double.queue_tool_call("lookup_user", {"args": {"user_id": "u_1"}, "next_reply": "Hi {{.firstName}}"})
    events = turn(conversation, "I am user one")

    first, second = tool_results(events)
    assert first.ok is False and first.result["error"]["type"] == "invalid_args"
    assert any("user_id" in p for p in first.result["error"]["problems"])
    assert second.ok is True
    assert done_text(events) == "Hi Kabir"
    outputs = [i for i in openai_double.requests[1]["input"] if i.get("type") == "function_call_output"]
    assert "invalid_args" in outputs[0]["output"]


@pytest.mark.parametrize(
    "target", ["http://127.0.0.1:{port}/v1/user", "http://169.254.169.254/latest/meta-data/", "http://10.1.2.3/v1/user"]
)
def test_it_refuses_internal_addresses_when_not_allowed_and_the_model_explains(
    bot, conversation, mock_api, settings, openai_double, target
):
    settings.VOICEBOT_HTTP_ALLOWED_HOSTS = []
    make_tool(bot, name="probe", url=target.format(port=mock_api.httpd.server_address[1]))
    openai_double.queue_tool_call("probe", {"args": {}, "next_reply": "Got it."})
    openai_double.queue_text("Sorry, I could not reach that service.")
    events = turn(conversation, "probe")

    result = tool_results(events)[0]
    assert result.ok is False
    assert result.result["error"]["type"] == "blocked_address"
    assert done_text(events) == "Sorry, I could not reach that service."


def test_every_successful_call_saves_its_response_for_later(bot, conversation, mock_api, allow_loopback, openai_double):
    from integrations.models import SavedResponse

    make_tool(bot, name="lookup_user", url=mock_api.url + "/v1/user?user_id={{args.user_id}}")
    openai_double.queue_tool_call("lookup_user", {"args": {"user_id": "u_1"}, "next_reply": "Saved."})
    events = turn(conversation, "look")
    saved = SavedResponse.objects.get(conversation=conversation)
    assert str(saved.id) == tool_results(events)[0].result["saved_response_id"]
    with saved.file.open("rb") as handle:
        assert json.loads(handle.read())["data"]["firstName"] == "Kabir"
    assert saved.file.name == f"saved_responses/{conversation.id}/{saved.id}.json"
