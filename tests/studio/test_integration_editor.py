"""The integration editor: create/edit with inline errors, live validation (HTMX), toggle, delete, and
"Test call" against the loopback mock API."""

from __future__ import annotations

import json

import pytest

from integrations.mock_api import MockApiServer
from integrations.models import IntegrationTool
from integrations.services_tools import tool_create
from tests.studio.conftest import HTMX


@pytest.fixture
def mock_api():
    with MockApiServer() as server:
        yield server


@pytest.fixture
def allow_loopback(settings):
    settings.VOICEBOT_HTTP_ALLOWED_HOSTS = ["127.0.0.1"]


def _tool_post(url="http://127.0.0.1:9001/v1/user?user_id={{args.user_id}}", **overrides):
    data = {
        "name": "get_user",
        "description": "Fetch a user.",
        "method": "GET",
        "enabled": "on",
        "url": url,
        "args_required": "user_id",
        "parameters_schema_json": "",
        "headers_template_json": "",
        "request_body_template": "{}",
        "response_mapper_json": json.dumps(
            {"firstName": "{{response.data.firstName}}", "lastName": "{{response.data.lastName}}"}
        ),
        "static_reply_template": "{% if meta.firstName %}Hi {{ meta.firstName }} {{ meta.lastName }}!{% endif %}",
        "response_schema_json": "",
        "codex_prompt": "",
    }
    data.update(overrides)
    return data


def test_it_shows_the_editor_with_every_field(staff_client, bot):
    html = staff_client.get(f"/bots/{bot.id}/integrations/new/").content.decode()
    for name in (
        "name",
        "description",
        "method",
        "enabled",
        "url",
        "args_required",
        "parameters_schema_json",
        "headers_template_json",
        "request_body_template",
        "response_mapper_json",
        "static_reply_template",
        "use_codex_response",
        "response_schema_json",
        "codex_prompt",
    ):
        assert f'name="{name}"' in html
    assert "Test call" in html


def test_it_creates_an_integration_and_lists_it_on_the_bot_page(staff_client, bot):
    response = staff_client.post(
        f"/bots/{bot.id}/integrations/new/", _tool_post(headers_template_json='{"X-Api-Key": "secret-value-123456"}')
    )
    assert response.status_code == 302 and response["Location"] == f"/bots/{bot.id}/"
    tool = IntegrationTool.objects.get(bot=bot)
    assert tool.args_required == ["user_id"] and tool.headers_configured
    page = staff_client.get(f"/bots/{bot.id}/").content.decode()
    assert "Integration “get_user” saved." in page and "get_user" in page
    assert "secret-value-123456" not in staff_client.get(f"/bots/{bot.id}/integrations/{tool.id}/").content.decode()


def test_it_shows_json_schema_and_jinja_errors_inline_and_saves_nothing(staff_client, bot):
    response = staff_client.post(
        f"/bots/{bot.id}/integrations/new/",
        _tool_post(
            name="web_search",
            url="ftp://nowhere",
            parameters_schema_json='{"type": "object", "properties": {"a": {"type": "nope"}}}',
            response_mapper_json="{not json",
            static_reply_template="{% if %}",
        ),
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "is a system tool name" in html
    assert "URL must start with http:// or https://" in html
    assert "Not a valid JSON Schema at properties/a/type" in html
    assert "Invalid JSON" in html
    assert "Jinja2 syntax error on line 1" in html
    assert not IntegrationTool.objects.exists()


def test_it_validates_live_with_out_of_band_error_lists(staff_client, bot):
    response = staff_client.post(
        f"/bots/{bot.id}/integrations/validate/", _tool_post(response_mapper_json="[1, 2]"), **HTMX
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="err-response_mapper_json" aria-live="polite" hx-swap-oob="true"><li>Must be a JSON object' in html
    assert "1 field to fix" in html
    ok = staff_client.post(f"/bots/{bot.id}/integrations/validate/", _tool_post(), **HTMX).content.decode()
    assert "All fields valid" in ok


def test_it_refuses_a_duplicate_name_on_save(staff_client, bot):
    tool_create(bot=bot, name="get_user", url="https://api.example.com/u")
    response = staff_client.post(f"/bots/{bot.id}/integrations/new/", _tool_post())
    assert response.status_code == 400
    assert "Tool name already exists for this bot" in response.content.decode()


def test_it_keeps_write_only_headers_when_left_blank_and_removes_them_on_request(staff_client, bot):
    tool = tool_create(
        bot=bot,
        name="get_user",
        url="https://api.example.com/u",
        headers_template_json='{"Authorization": "Bearer abcdefghijklmnop"}',
    )
    page = staff_client.get(f"/bots/{bot.id}/integrations/{tool.id}/").content.decode()
    assert "Current (masked)" in page and "abcdefghijklmnop" not in page
    staff_client.post(f"/bots/{bot.id}/integrations/{tool.id}/", _tool_post(url="https://api.example.com/v2"))
    tool.refresh_from_db()
    assert tool.url == "https://api.example.com/v2" and tool.headers_configured
    staff_client.post(f"/bots/{bot.id}/integrations/{tool.id}/", _tool_post(remove_headers="on"))
    tool.refresh_from_db()
    assert not tool.headers_configured


def test_it_toggles_an_integration_with_htmx(staff_client, bot):
    tool = tool_create(bot=bot, name="get_user", url="https://api.example.com/u")
    response = staff_client.post(f"/bots/{bot.id}/integrations/{tool.id}/toggle/", {}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and html.strip().startswith(f'<tr id="tool-{tool.id}">')
    assert "disabled" in html
    tool.refresh_from_db()
    assert tool.enabled is False
    staff_client.post(f"/bots/{bot.id}/integrations/{tool.id}/toggle/", {"enabled": "on"}, **HTMX)
    tool.refresh_from_db()
    assert tool.enabled is True


def test_it_deletes_an_integration(staff_client, bot):
    tool = tool_create(bot=bot, name="get_user", url="https://api.example.com/u")
    response = staff_client.post(f"/bots/{bot.id}/integrations/{tool.id}/delete/", **HTMX)
    assert response.status_code == 200 and response.content == b""
    assert not IntegrationTool.objects.exists()


def test_it_answers_404_for_a_tool_of_another_bot(staff_client, bot):
    from bots.services import bot_create

    other = bot_create(name="Other")
    tool = tool_create(bot=other, name="get_user", url="https://api.example.com/u")
    assert staff_client.get(f"/bots/{bot.id}/integrations/{tool.id}/").status_code == 404
    assert staff_client.post(f"/bots/{bot.id}/integrations/{tool.id}/delete/").status_code == 404


def test_test_call_runs_the_request_and_shows_mapped_metadata_and_the_reply(
    staff_client, bot, mock_api, allow_loopback
):
    data = _tool_post(url=mock_api.url + "/v1/user?user_id={{args.user_id}}", sample_args='{"user_id": "u_1"}')
    response = staff_client.post(f"/bots/{bot.id}/integrations/test-call/", data, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200, html
    assert "HTTP 200" in html
    assert "Hi Kabir Verma!" in html
    assert "&quot;firstName&quot;: &quot;Kabir&quot;" in html
    assert f"GET {mock_api.url}/v1/user?user_id=u_1" in html
    assert not IntegrationTool.objects.exists()  # nothing saved


def test_test_call_reports_schema_problems_in_the_sample_args(staff_client, bot, mock_api, allow_loopback):
    data = _tool_post(url=mock_api.url + "/v1/user?user_id={{args.user_id}}", sample_args="{}")
    html = staff_client.post(f"/bots/{bot.id}/integrations/test-call/", data, **HTMX).content.decode()
    assert "The sample args do not match the tool's schema" in html
    assert "args: &#x27;user_id&#x27; is a required property" in html


def test_test_call_is_refused_by_the_egress_policy_without_the_allow_list(staff_client, bot, mock_api):
    data = _tool_post(url=mock_api.url + "/v1/user?user_id={{args.user_id}}", sample_args='{"user_id": "u_1"}')
    html = staff_client.post(f"/bots/{bot.id}/integrations/test-call/", data, **HTMX).content.decode()
    assert "Call failed" in html


def test_test_call_shows_the_http_error_of_the_remote_api(staff_client, bot, mock_api, allow_loopback):
    data = _tool_post(url=mock_api.url + "/v1/nothing-here", args_required="", sample_args="{}")
    html = staff_client.post(f"/bots/{bot.id}/integrations/test-call/", data, **HTMX).content.decode()
    assert "Call failed (HTTP 404)" in html


def test_test_call_asks_to_fix_invalid_fields_and_bad_sample_json_first(staff_client, bot):
    data = _tool_post(url="nope", sample_args="{broken")
    response = staff_client.post(f"/bots/{bot.id}/integrations/test-call/", data, **HTMX)
    html = response.content.decode()
    assert response.status_code == 400
    assert "Fix these first" in html and "URL must start with" in html and "Invalid JSON" in html


def test_test_call_uses_the_stored_write_only_headers(staff_client, bot, mock_api, allow_loopback):
    tool = tool_create(
        bot=bot,
        name="echo",
        url=mock_api.url + "/v1/echo",
        headers_template_json='{"X-Api-Key": "stored-secret-123456789"}',
    )
    data = _tool_post(
        name="echo",
        url=mock_api.url + "/v1/echo",
        args_required="",
        response_mapper_json='{"seen": "{{response.headers.X-Api-Key}}"}',
        static_reply_template="",
        tool_id=str(tool.id),
        sample_args="{}",
    )
    html = staff_client.post(f"/bots/{bot.id}/integrations/test-call/", data, **HTMX).content.decode()
    assert "HTTP 200" in html
    assert "stored-secret-123456789" in html  # the echoed header proves it was sent
    assert "X-Api-Key: stor********6789" in html  # while the request view masks it
