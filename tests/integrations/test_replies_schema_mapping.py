"""Pieces the model and the user see: the tool definition, the Jinja2 static replies, the response
mapper and the response-schema report."""

from __future__ import annotations

import pytest

from integrations.mapping import apply_response_mapper, validate_response
from integrations.models import IntegrationTool
from integrations.replies import check_syntax, expand_shorthand, render_static_reply
from integrations.schema import tool_definition, validate_args


def test_the_shorthand_applies_only_inside_template_blocks():
    source = "Visit example .com... {{ .firstName }} {% if .vip %}VIP{% endif %} {{ 'a .b' }} {{ items[0].name }}"
    assert expand_shorthand(source) == (
        "Visit example .com... {{ meta.firstName }} {% if meta.vip %}VIP{% endif %} {{ 'a .b' }} {{ items[0].name }}"
    )


def test_a_static_reply_renders_meta_response_and_args():
    text = render_static_reply(
        "Hi {{ .firstName | upper }}, your id is {{ args.user_id }} and city {{ response.city }}.",
        meta={"firstName": "Ana"},
        response={"city": "Pune"},
        args={"user_id": "u_1"},
    )
    assert text == "Hi ANA, your id is u_1 and city Pune."


@pytest.mark.parametrize(
    "source",
    [
        "{{ ().__class__.__bases__[0].__subclasses__() }}",
        "{{ meta.missing.deeper }}",
        "{{ 'x' * 100000000 }}",
        "{% for i in range(10) %}",
    ],
)
def test_a_static_reply_fails_closed(source):
    assert render_static_reply(source, meta={}, response={}, args={}) == ""


def test_syntax_errors_are_reported_for_validation():
    assert check_syntax("{% if x %}") is not None
    assert check_syntax("{{ .a }}") is None


def test_the_mapper_keeps_raw_values_and_nests_dotted_keys():
    patch = apply_response_mapper(
        {
            "user.name": "{{response.data.name}}",
            "ids": "{{response.ids}}",
            "label": "N: {{response.data.name}}",
            "fixed": {"a": 1},
            "none": None,
        },
        response={"data": {"name": "Ana"}, "ids": [1, 2]},
        meta={},
        args={},
    )
    assert patch == {"user.name": "Ana", "ids": [1, 2], "label": "N: Ana", "fixed": {"a": 1}, "none": None}


def test_a_response_schema_mismatch_is_reported_not_raised():
    report = validate_response({"type": "object", "required": ["data"]}, {"other": 1})
    assert report["valid"] is False and "data" in report["errors"][0]
    assert validate_response(None, {"x": 1}) is None


def test_the_definition_appends_required_args_and_codex_intent_fields_with_descriptions():
    tool = IntegrationTool(
        name="find_doctors",
        url="https://api.example.com/doctors",
        args_required=["city"],
        parameters_schema={"type": "object", "properties": {"limit": {"type": "integer"}}},
        use_codex_response=True,
    )
    definition = tool_definition(tool)
    args = definition["parameters"]["properties"]["args"]
    assert definition["parameters"]["required"] == ["args"]
    assert "next_reply" not in definition["parameters"]["properties"]
    assert args["required"] == ["city", "fields_required", "why_api_was_called"]
    assert args["properties"]["fields_required"]["description"].startswith("Fields required from the HTTP response")
    assert (
        args["properties"]["why_api_was_called"]["description"]
        == "User intent or business reason for calling this API."
    )
    assert validate_args(tool, {"city": "Pune", "limit": "ten"})  # wrong type + missing intent fields
    assert validate_args(tool, {"city": "Pune", "fields_required": "names", "why_api_was_called": "find"}) == []


def test_a_normal_tool_requires_next_reply():
    tool = IntegrationTool(name="t", url="https://api.example.com/")
    assert tool_definition(tool)["parameters"]["required"] == ["args", "next_reply"]
