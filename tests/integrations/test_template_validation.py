"""One validator per template kind, run by the code that renders it: whatever renders validates (the
`{{ .x }}` shorthand, list indexes written `items[0]` or `items.0`), and real mistakes are refused with
a message saying what to write, through the REST API and the Studio editor alike."""

from __future__ import annotations

import json

import pytest

from integrations.mapping import apply_response_mapper
from integrations.mock_api import MockApiServer
from integrations.models import IntegrationTool
from integrations.replies import render_reply
from tests.studio.conftest import HTMX

pytestmark = pytest.mark.django_db

RESPONSE = {"data": [{"name": "Asha"}, {"name": "Ravi"}]}
META = {"firstName": "Ana"}


def tool_payload(**extra):
    return {
        "name": "find_people",
        "url": "https://api.example.com/people?owner={{.firstName}}&q={{args.q}}",
        "method": "GET",
        "response_mapper_json": {},
        "static_reply_template": "",
        **extra,
    }


ACCEPTED_REPLIES = [
    ("Hi {{ .firstName }}!", "Hi Ana!"),  # the renderer's shorthand
    ("Hi {{ meta.firstName }}!", "Hi Ana!"),
    ("{{ response.data[0].name }} and {{ response.data.1.name }}", "Asha and Ravi"),
    ("{% for p in response.data %}{{ p.name }} {% endfor %}", "Asha Ravi"),
]


@pytest.mark.parametrize(("template", "rendered"), ACCEPTED_REPLIES)
def test_the_api_accepts_every_static_reply_the_renderer_renders(staff_api, bot, template, rendered):
    response = staff_api.post(f"/api/bots/{bot.id}/tools", tool_payload(static_reply_template=template), format="json")

    assert response.status_code == 201, response.json()
    assert render_reply(template, meta=META, response=RESPONSE, args={}) == rendered


def test_the_api_accepts_list_indexes_in_both_forms_in_the_response_mapper(staff_api, bot):
    mapper = {"first": "{{response.data.0.name}}", "second": "{{response.data[1].name}}", "all": "{{response.data}}"}
    response = staff_api.post(f"/api/bots/{bot.id}/tools", tool_payload(response_mapper_json=mapper), format="json")

    assert response.status_code == 201, response.json()
    patch = apply_response_mapper(mapper, response=RESPONSE, meta=META, args={})
    assert patch == {"first": "Asha", "second": "Ravi", "all": RESPONSE["data"]}


REFUSED = [
    ({"static_reply_template": "{% if meta.firstName %}Hi"}, "static_reply_template", "Jinja2 syntax error on line 1"),
    ({"static_reply_template": "{{ meta.x | no_such_filter }}"}, "static_reply_template", "no_such_filter"),
    ({"response_mapper_json": {"first": "{{firstName}}"}}, "response_mapper_json", "always renders empty"),
    ({"response_mapper_json": {"up": "{{ .x | upper }}"}}, "response_mapper_json", "only pick a value"),
    ({"url": "https://api.example.com/people/{{args.id"}, "url", "never closes it"),
    ({"request_body_template": '{"q": "{% if args.q %}x{% endif %}"}'}, "request_body_template", "Jinja2"),
    ({"headers_template_json": json.dumps({"X-Who": "{{who}}"})}, "headers_template_json", "X-Who: {{who}}"),
]


@pytest.mark.parametrize(("fields", "field", "message"), REFUSED)
def test_the_api_refuses_real_template_errors_with_a_clear_message(staff_api, bot, fields, field, message):
    response = staff_api.post(f"/api/bots/{bot.id}/tools", tool_payload(**fields), format="json")

    assert response.status_code == 400
    assert message in " ".join(response.json()[field])
    assert not IntegrationTool.objects.exists()


def _editor_post(**overrides):
    data = {
        "name": "find_people",
        "description": "",
        "method": "GET",
        "enabled": "on",
        "url": "https://api.example.com/people?q={{args.q}}",
        "args_required": "",
        "parameters_schema_json": "",
        "headers_template_json": "",
        "request_body_template": "{}",
        "response_mapper_json": json.dumps({"first": "{{response.data.0.name}}"}),
        "static_reply_template": "Hi {{ .firstName }}, the first is {{ response.data[0].name }}.",
        "response_schema_json": "",
        "codex_prompt": "",
    }
    data.update(overrides)
    return data


def test_the_studio_editor_saves_the_shorthand_and_both_index_forms(staff_client, bot):
    response = staff_client.post(f"/bots/{bot.id}/integrations/new/", _editor_post())

    assert response.status_code == 302
    tool = IntegrationTool.objects.get(bot=bot)
    assert tool.response_mapper == {"first": "{{response.data.0.name}}"}


def test_the_studio_editor_refuses_the_same_errors_as_the_api_live_and_on_save(staff_client, bot):
    bad = _editor_post(static_reply_template="{% if meta.firstName %}Hi", response_mapper_json='{"x": "{{x}}"}')

    live = staff_client.post(f"/bots/{bot.id}/integrations/validate/", bad, **HTMX).content.decode()
    saved = staff_client.post(f"/bots/{bot.id}/integrations/new/", bad)

    assert "Jinja2 syntax error on line 1" in live and "always renders empty" in live
    assert saved.status_code == 400
    assert "Jinja2 syntax error on line 1" in saved.content.decode()
    assert not IntegrationTool.objects.exists()


def test_the_editor_shows_which_syntax_applies_where(staff_client, bot):
    html = staff_client.get(f"/bots/{bot.id}/integrations/new/").content.decode()

    assert 'id="template-syntax"' in html
    assert "Placeholders (not Jinja2)" in html  # beside the URL, headers, body
    assert "Jinja2, not placeholders" in html  # beside the static reply


def test_test_call_flags_mapped_fields_that_came_out_empty(staff_client, bot, settings):
    settings.VOICEBOT_HTTP_ALLOWED_HOSTS = ["127.0.0.1"]
    mapper = {"doctor": "{{response.data.0.name}}", "typo": "{{response.data.0.nmae}}"}
    with MockApiServer() as api:
        data = _editor_post(
            url=api.url + "/v1/doctors?city=Pune",
            response_mapper_json=json.dumps(mapper),
            static_reply_template="",
            sample_args="{}",
        )
        html = staff_client.post(f"/bots/{bot.id}/integrations/test-call/", data, **HTMX).content.decode()

    assert "HTTP 200" in html
    assert "&quot;doctor&quot;: &quot;Dr. " in html  # `data.0.name` indexed the list
    assert 'id="test-call-empty-mapped"' in html
    empty = html.split('id="test-call-empty-mapped"', 1)[1].split("</div>", 1)[0]
    assert "typo" in empty and "doctor" not in empty
