"""The integration editor's forms. Field names are the REST API's (and the validator's error keys), so
`integrations.validation.clean_tool_fields` checks the form and its errors land on the right field;
live validation (HTMX, while typing) and saving run exactly the same checks.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from integrations.models import IntegrationTool
from integrations.validation import clean_tool_fields

DEFAULT_CODEX_PROMPT = (
    "You are a data extraction agent. From the saved HTTP response, filter what the user asked for "
    "(what_to_search_for) and answer with only the matching items and the fields needed."
)
MONO = {"spellcheck": "false", "autocomplete": "off"}
# Beside every `{{.x}}` field (URL, headers, body, mapper); the static reply says Jinja2 instead.
PLACEHOLDER_HELP = (
    "Placeholders (not Jinja2): {{args.user_id}} (tool arguments), {{.firstName}} or {{meta.firstName}} "
    "(metadata). Example: https://api.example.com/users/{{args.user_id}}"
)


def _textarea(rows: int, placeholder: str = "") -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows, "placeholder": placeholder, **MONO})


class IntegrationForm(forms.Form):
    name = forms.CharField(
        max_length=64, label="Tool name", widget=forms.TextInput(attrs={"placeholder": "get_user", **MONO})
    )
    description = forms.CharField(
        required=False,
        label="Description (for the model)",
        widget=forms.Textarea(
            attrs={"rows": 2, "placeholder": "Fetch user profile (firstName, lastName, dob) by user_id."}
        ),
    )
    method = forms.ChoiceField(choices=IntegrationTool.Method.choices, initial="GET")
    enabled = forms.BooleanField(required=False, initial=True, help_text="When off, the model cannot call it.")
    url = forms.CharField(
        max_length=2000,
        label="URL",
        help_text=PLACEHOLDER_HELP,
        widget=forms.TextInput(attrs={"placeholder": "http://127.0.0.1:9001/v1/user?user_id={{args.user_id}}", **MONO}),
    )
    args_required = forms.CharField(
        required=False,
        label="Required args",
        help_text="Comma-separated names the model must fill.",
        widget=forms.TextInput(attrs={"placeholder": "user_id, city", **MONO}),
    )
    parameters_schema_json = forms.CharField(
        required=False,
        label="Args schema (JSON Schema)",
        widget=_textarea(5, '{"type":"object","properties":{"user_id":{"type":"string"}}}'),
    )
    headers_template_json = forms.CharField(
        required=False,
        label="Headers template (JSON)",
        help_text=PLACEHOLDER_HELP,
        widget=_textarea(3, '{"Authorization": "Bearer {{.apiToken}}"}'),
    )
    remove_headers = forms.BooleanField(required=False, label="Remove the stored headers")
    request_body_template = forms.CharField(
        required=False,
        label="Request body template",
        initial="{}",
        help_text=PLACEHOLDER_HELP + " {} sends the arguments as JSON.",
        widget=_textarea(3, '{"user_id": "{{args.user_id}}"}'),
    )
    response_mapper_json = forms.CharField(
        required=False,
        label="Response mapper (JSON: metadata key → template)",
        initial="{}",
        help_text=(
            "Placeholders, as above, plus {{response.x}} for the response: e.g. "
            '{"firstName": "{{response.data.firstName}}", "city": "{{response.data.items[0].city}}"} '
            "(items[0] and items.0 both index a list)."
        ),
        widget=_textarea(4, '{"firstName": "{{response.data.firstName}}"}'),
    )
    static_reply_template = forms.CharField(
        required=False,
        label="Static reply (Jinja2)",
        help_text=(
            "Jinja2, not placeholders: {{ meta.firstName }} (or the shorthand {{ .firstName }}), "
            "{{ response.data.items[0].name }}, {{ args.user_id }}, and tags such as "
            "{% if meta.firstName %}…{% endif %}. Empty: the model answers."
        ),
        widget=_textarea(
            3, "{% if meta.firstName %}Hi {{ meta.firstName }}!{% else %}I could not find you.{% endif %}"
        ),
    )
    use_codex_response = forms.BooleanField(
        required=False, label="Use Codex for the response", help_text="A Codex step filters the saved response."
    )
    response_schema_json = forms.CharField(
        required=False, label="Response schema (JSON Schema, guides Codex)", widget=_textarea(4)
    )
    codex_prompt = forms.CharField(required=False, label="Codex filter prompt (per tool)", widget=_textarea(4))

    def __init__(self, *args: Any, tool: IntegrationTool | None = None, **kwargs: Any) -> None:
        self.tool = tool
        if tool is not None and "initial" not in kwargs:
            kwargs["initial"] = initial_from_tool(tool)
        super().__init__(*args, **kwargs)
        if tool is not None and tool.headers_configured:
            self.fields["headers_template_json"].help_text = "Write-only: leave empty to keep the stored headers."
        else:
            self.fields.pop("remove_headers")
        for name in ("response_schema_json", "codex_prompt"):
            self.fields[name].widget.attrs["data-show-if"] = "use_codex_response=on"

    def service_payload(self) -> dict[str, Any]:
        """The fields as the tool services take them (headers only when given, or removed)."""
        data = dict(self.cleaned_data)
        remove = data.pop("remove_headers", False)
        headers = (data.get("headers_template_json") or "").strip()
        if remove:
            data["headers_template_json"] = ""
        elif not headers and self.tool is not None:
            data.pop("headers_template_json")  # write-only: blank on edit keeps what is stored
        if data.get("use_codex_response") and not (data.get("codex_prompt") or "").strip():
            data["codex_prompt"] = DEFAULT_CODEX_PROMPT
        return data

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        try:
            clean_tool_fields(self.service_payload())
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                for message in messages:
                    self.add_error(field if field in self.fields else None, message)
        return data


def initial_from_tool(tool: IntegrationTool) -> dict[str, Any]:
    def text(value: Any) -> str:
        return "" if value is None else json.dumps(value, ensure_ascii=False, indent=2)

    return {
        "name": tool.name,
        "description": tool.description,
        "method": tool.method,
        "enabled": tool.enabled,
        "url": tool.url,
        "args_required": ", ".join(tool.args_required or []),
        "parameters_schema_json": text(tool.parameters_schema),
        "headers_template_json": "",
        "request_body_template": tool.request_body_template,
        "response_mapper_json": text(tool.response_mapper or {}),
        "static_reply_template": tool.static_reply_template,
        "use_codex_response": tool.use_codex_response,
        "response_schema_json": text(tool.response_schema),
        "codex_prompt": tool.codex_prompt,
    }


class TestCallForm(forms.Form):
    """Sample input for "Test call": the model's arguments and the conversation metadata to assume."""

    sample_args = forms.CharField(
        required=False,
        label="Sample args (JSON)",
        widget=_textarea(3, '{"user_id": "u_1"}'),
    )
    sample_metadata = forms.CharField(
        required=False,
        label="Sample metadata (JSON)",
        widget=_textarea(2, "{}"),
    )

    def _object(self, field: str) -> dict[str, Any]:
        text = (self.cleaned_data.get(field) or "").strip()
        if not text:
            return {}
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise ValidationError(f"Invalid JSON: {exc}") from None
        if not isinstance(value, dict):
            raise ValidationError("Must be a JSON object.")
        return value

    def clean_sample_args(self) -> dict[str, Any]:
        return self._object("sample_args")

    def clean_sample_metadata(self) -> dict[str, Any]:
        return self._object("sample_metadata")
