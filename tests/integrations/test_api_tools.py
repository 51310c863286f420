"""`/api/bots/<id>/tools`: CRUD with validation, write-only encrypted headers, every header value masked."""

from __future__ import annotations

import json
import uuid

import pytest
from django.db import connection

from bots.services import bot_create, bot_update
from integrations.models import IntegrationTool
from integrations.services_tools import tool_create

pytestmark = pytest.mark.django_db

TOKEN = "tok_live_9f8e7d6c5b4a3210ffee"
API_KEY = "xkey-1234567890-abcdefghij"


def tool_payload(**extra):
    return {
        "name": "lookup_user",
        "description": "Find a user.",
        "url": "https://api.example.com/users/{{args.user_id}}",
        "method": "get",
        "args_required": ["user_id"],
        "headers_template_json": json.dumps({"Authorization": f"Bearer {TOKEN}", "X-Api-Key": API_KEY}),
        "parameters_schema_json": json.dumps(
            {"type": "object", "properties": {"user_id": {"type": "string"}}, "required": ["user_id"]}
        ),
        "response_mapper_json": {"firstName": "{{response.first_name}}"},
        "static_reply_template": "Hello {{ meta.firstName }}!",
        **extra,
    }


def create_tool(api, bot, **extra):
    return api.post(f"/api/bots/{bot.id}/tools", tool_payload(**extra), format="json")


def test_it_creates_a_tool_and_returns_the_reference_shape(staff_api, bot):
    response = create_tool(staff_api, bot)
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "lookup_user"
    assert body["bot_id"] == str(bot.id)
    assert body["method"] == "GET"
    assert body["enabled"] is True
    assert body["args_required"] == ["user_id"]
    assert body["headers_template_json"] == "{}"
    assert body["headers_configured"] is True
    assert json.loads(body["parameters_schema_json"])["required"] == ["user_id"]
    assert body["parameters_schema"]["properties"] == {"user_id": {"type": "string"}}
    assert json.loads(body["response_mapper_json"]) == {"firstName": "{{response.first_name}}"}
    assert body["response_schema_json"] == ""
    assert body["request_body_template"] == "{}"
    tool = IntegrationTool.objects.get(pk=body["id"])
    assert json.loads(tool.get_headers_template())["X-Api-Key"] == API_KEY


def test_it_masks_every_header_value(staff_api, bot):
    body = create_tool(staff_api, bot).json()
    masked = json.loads(body["headers_template_json_masked"])
    assert set(masked) == {"Authorization", "X-Api-Key"}
    assert masked["Authorization"].startswith("Bearer ")
    assert "*" in masked["X-Api-Key"] and "*" in masked["Authorization"]
    listing = staff_api.get(f"/api/bots/{bot.id}/tools").content.decode()
    for text in (body and json.dumps(body), listing):
        assert TOKEN not in text
        assert API_KEY not in text
        assert API_KEY[4:-4] not in text


def test_it_keeps_headers_encrypted_in_the_database_column(staff_api, bot):
    tool_id = create_tool(staff_api, bot).json()["id"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM integrations_integrationtool WHERE id = %s", [uuid.UUID(tool_id).hex])
        row = " ".join(str(value) for value in cursor.fetchone())
    assert TOKEN not in row
    assert API_KEY not in row


def test_it_keeps_headers_when_an_update_omits_them_and_clears_them_when_blank(staff_api, bot):
    tool_id = create_tool(staff_api, bot).json()["id"]
    url = f"/api/bots/{bot.id}/tools/{tool_id}"

    kept = staff_api.put(url, {"description": "Changed"}, format="json").json()
    assert kept["description"] == "Changed"
    assert kept["headers_configured"] is True
    assert kept["name"] == "lookup_user"

    cleared = staff_api.put(url, {"headers_template_json": ""}, format="json").json()
    assert cleared["headers_configured"] is False
    assert cleared["headers_template_json_masked"] == "{}"


def test_it_lists_tools_with_system_tools_and_disabled_tools(staff_api, bot):
    bot_update(bot=bot, disabled_tools=["web_search"])
    create_tool(staff_api, bot)
    tool_create(bot=bot_create(name="Other"), name="not_mine", url="https://x.example")

    response = staff_api.get(f"/api/bots/{bot.id}/tools")

    assert response.status_code == 200
    body = response.json()
    assert [tool["name"] for tool in body["items"]] == ["lookup_user"]
    assert body["disabled_tools"] == ["web_search"]
    assert isinstance(body["system_tools"], list)
    for row in body["system_tools"]:
        assert set(row) == {"name", "description", "enabled", "can_disable"}
        assert row["enabled"] is (row["name"] != "web_search")


def test_it_accepts_args_required_as_text(staff_api, bot):
    body = create_tool(staff_api, bot, args_required="user_id, account\nregion").json()
    assert body["args_required"] == ["user_id", "account", "region"]


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "has spaces"}, "name"),
        ({"name": "x" * 65}, "name"),
        ({"name": "web_search"}, "name"),
        ({"name": "set_variable"}, "name"),
        ({"url": ""}, "url"),
        ({"url": "ftp://files.example.com/x"}, "url"),
        ({"url": "/relative/path"}, "url"),
        ({"method": "TRACE"}, "method"),
        ({"headers_template_json": "{not json"}, "headers_template_json"),
        ({"headers_template_json": '["a"]'}, "headers_template_json"),
        ({"headers_template_json": {"X-Count": 3}}, "headers_template_json"),
        ({"parameters_schema_json": "{oops"}, "parameters_schema_json"),
        ({"parameters_schema_json": {"type": "objectish"}}, "parameters_schema_json"),
        ({"parameters_schema_json": {"type": "array", "items": {}}}, "parameters_schema_json"),
        ({"response_schema_json": {"properties": {"a": {"type": 5}}}}, "response_schema_json"),
        ({"response_mapper_json": "[1, 2]"}, "response_mapper_json"),
        ({"static_reply_template": "Hello {{ meta.name "}, "static_reply_template"),
        ({"static_reply_template": "{% for x in y %}never closed"}, "static_reply_template"),
        ({"args_required": [1, 2]}, "args_required"),
    ],
)
def test_it_refuses_an_invalid_tool_with_a_field_error(staff_api, bot, extra, field):
    response = create_tool(staff_api, bot, **extra)
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert response.json()["detail"]
    assert not IntegrationTool.objects.exists()


def test_it_accepts_the_metadata_shorthand_the_renderer_supports(staff_api, bot):
    template = "Hello {{ .firstName }}{% if .plan == 'gold' %}, gold member{% endif %}!"
    response = create_tool(staff_api, bot, static_reply_template=template)
    assert response.status_code == 201, response.json()
    assert response.json()["static_reply_template"] == template


def test_it_refuses_a_duplicate_name_on_the_same_bot_only(staff_api, bot):
    create_tool(staff_api, bot)
    duplicate = create_tool(staff_api, bot)
    assert duplicate.status_code == 400
    assert duplicate.json()["name"] == ["Tool name already exists for this bot"]
    other = bot_create(name="Other")
    assert create_tool(staff_api, other).status_code == 201


def test_it_refuses_renaming_onto_another_tool(staff_api, bot):
    create_tool(staff_api, bot)
    second = create_tool(staff_api, bot, name="second").json()
    response = staff_api.put(f"/api/bots/{bot.id}/tools/{second['id']}", {"name": "lookup_user"}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()
    keep_name = staff_api.put(f"/api/bots/{bot.id}/tools/{second['id']}", {"name": "second"}, format="json")
    assert keep_name.status_code == 200


def test_it_refuses_a_bad_update_and_keeps_the_stored_tool(staff_api, bot):
    tool_id = create_tool(staff_api, bot).json()["id"]
    response = staff_api.put(
        f"/api/bots/{bot.id}/tools/{tool_id}", {"parameters_schema_json": "{bad", "description": "x"}, format="json"
    )
    assert response.status_code == 400
    tool = IntegrationTool.objects.get(pk=tool_id)
    assert tool.description == "Find a user."
    assert tool.parameters_schema["required"] == ["user_id"]


def test_it_deletes_a_tool(staff_api, bot):
    tool_id = create_tool(staff_api, bot).json()["id"]
    response = staff_api.delete(f"/api/bots/{bot.id}/tools/{tool_id}")
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert not IntegrationTool.objects.exists()


def test_it_answers_404_for_a_tool_of_another_bot_or_an_unknown_bot(staff_api, bot):
    tool_id = create_tool(staff_api, bot).json()["id"]
    other = bot_create(name="Other")
    assert (
        staff_api.put(f"/api/bots/{other.id}/tools/{tool_id}", {"description": "x"}, format="json").status_code == 404
    )
    assert staff_api.delete(f"/api/bots/{other.id}/tools/{tool_id}").status_code == 404
    assert staff_api.delete(f"/api/bots/{bot.id}/tools/{uuid.uuid4()}").status_code == 404
    assert staff_api.get(f"/api/bots/{uuid.uuid4()}/tools").status_code == 404
    assert create_tool(staff_api, type("B", (), {"id": uuid.uuid4()})).status_code == 404
    assert IntegrationTool.objects.filter(pk=tool_id).exists()


def test_it_refuses_anonymous_and_non_staff_users(anonymous_api, stranger_api, bot):
    tool = tool_create(bot=bot, name="t", url="https://x.example")
    for api in (anonymous_api, stranger_api):
        assert api.get(f"/api/bots/{bot.id}/tools").status_code in (401, 403)
        assert create_tool(api, bot).status_code in (401, 403)
        assert api.put(f"/api/bots/{bot.id}/tools/{tool.id}", {"name": "z"}, format="json").status_code in (401, 403)
        assert api.delete(f"/api/bots/{bot.id}/tools/{tool.id}").status_code in (401, 403)
    assert IntegrationTool.objects.get(pk=tool.pk).name == "t"
