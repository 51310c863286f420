"""Validation of integration-tool fields, shared by the REST API, the Studio editor (live validation)
and the admin. The reference stored whatever it was given; a bad JSON Schema or template then failed
mid-conversation. Here each field is checked when saved and errors name the field.

Every public function raises django `ValidationError({field: message})`; `clean_tool_fields` runs
them all and reports every bad field at once.

Templates are checked by the code that renders them, one validator per kind: the `{{.x}}` placeholders
of the URL, headers, body and response mapper by `conversations.templating.template_problems`, the
Jinja2 static reply by `integrations.replies.check_syntax` (the renderer's sandbox, with its
`{{ .x }}` shorthand). Whatever renders validates; a template that would fail or silently render
empty is refused with a message saying what to write.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from bots.rules import SYSTEM_TOOL_NAMES, TOOL_NAME_MESSAGE, is_tool_name
from conversations.templating import template_problems
from integrations.models import IntegrationTool
from integrations.replies import check_syntax

MAX_TEMPLATE_CHARS = 100_000
_PLACEHOLDER = re.compile(r"\{\{.*?\}\}", re.S)

# Input names accepted for each stored field: the reference's `*_json` text names and plain names.
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "parameters_schema": ("parameters_schema_json", "parameters_schema"),
    "response_schema": ("response_schema_json", "response_schema"),
    "response_mapper": ("response_mapper_json", "response_mapper"),
    "headers_template": ("headers_template_json", "headers_template"),
}


def validate_tool_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationError({"name": "Tool name is required"})
    name = name.strip()
    if not is_tool_name(name):
        raise ValidationError({"name": TOOL_NAME_MESSAGE})
    if name in SYSTEM_TOOL_NAMES:
        raise ValidationError({"name": f"{name!r} is a system tool name; choose another name."})
    return name


def validate_url_template(url: Any) -> str:
    """An http(s) URL once its `{{…}}` placeholders are filled (checked with a stand-in value)."""
    if not isinstance(url, str) or not url.strip():
        raise ValidationError({"url": "URL is required."})
    url = url.strip()
    if len(url) > 2000:
        raise ValidationError({"url": "URL is longer than 2000 characters."})
    if any(ch.isspace() for ch in _PLACEHOLDER.sub("x", url)):
        raise ValidationError({"url": "URL must not contain spaces outside {{…}} placeholders."})
    parts = urlsplit(_PLACEHOLDER.sub("x", url))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationError({"url": "URL must start with http:// or https:// and name a host."})
    return validate_placeholders(url, field="url")


def validate_placeholders(value: Any, *, field: str, where: str = "") -> str:
    """A `{{.x}}` placeholder template, checked by the renderer's own parser (conversations.templating)."""
    text = _text(value, field=field)
    problems = template_problems(text)
    if problems:
        raise ValidationError({field: [f"{where}{problem}" for problem in problems]})
    return text


def validate_method(method: Any) -> str:
    value = (method or "GET").strip().upper() if isinstance(method, str) or method is None else method
    if value not in IntegrationTool.Method.values:
        raise ValidationError({"method": f"Method must be one of {', '.join(IntegrationTool.Method.values)}."})
    return value


def parse_json_value(value: Any, *, field: str) -> Any:
    """A JSON text field: accept the parsed object, or a JSON string; blank text means None."""
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return json.loads(value)
        except ValueError as exc:
            raise ValidationError({field: f"Invalid JSON: {exc}"}) from None
    return value


def validate_json_schema(value: Any, *, field: str, object_only: bool = False) -> dict | None:
    """A JSON Schema valid against the Draft 2020-12 meta-schema (None when blank)."""
    schema = parse_json_value(value, field=field)
    if schema is None:
        return None
    if not isinstance(schema, dict):
        raise ValidationError({field: "Must be a JSON Schema object."})
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        raise ValidationError({field: f"Not a valid JSON Schema at {where}: {exc.message}"}) from None
    if object_only and schema.get("type", "object") != "object":
        raise ValidationError({field: 'The arguments schema must describe an object ("type": "object").'})
    return schema


def validate_headers_template(value: Any) -> dict[str, str]:
    """A JSON object of header name → value template (both strings); blank means no headers."""
    headers = parse_json_value(value, field="headers_template_json")
    if headers is None:
        return {}
    if not isinstance(headers, dict):
        raise ValidationError({"headers_template_json": "Must be a JSON object of header names to values."})
    for name, header_value in headers.items():
        if not name.strip() or any(ch in name for ch in ":\r\n "):
            raise ValidationError({"headers_template_json": f"{name!r} is not a valid header name."})
        if not isinstance(header_value, str):
            raise ValidationError({"headers_template_json": f"The value of {name!r} must be a string."})
        if "\r" in header_value or "\n" in header_value:
            raise ValidationError({"headers_template_json": f"The value of {name!r} must be on one line."})
        validate_placeholders(header_value, field="headers_template_json", where=f"{name}: ")
    return headers


def validate_response_mapper(value: Any) -> dict[str, Any]:
    """`{metadata_key: template}`; blank means no mapping."""
    mapper = parse_json_value(value, field="response_mapper_json")
    if mapper is None:
        return {}
    if not isinstance(mapper, dict):
        raise ValidationError({"response_mapper_json": "Must be a JSON object of metadata keys to templates."})
    for key, template in mapper.items():
        if not key.strip():
            raise ValidationError({"response_mapper_json": "Metadata keys must not be blank."})
        if isinstance(template, str):
            validate_placeholders(template, field="response_mapper_json", where=f"{key}: ")
    return mapper


def parse_args_required(value: Any) -> list[str]:
    """A list of argument names, given as a list, a JSON list text, or comma/newline separated text."""
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            value = parse_json_value(text, field="args_required")
        else:
            value = [part for part in re.split(r"[,\n]", text)]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValidationError({"args_required": "Must be a list of argument names."})
    names = list(dict.fromkeys(v.strip() for v in value if v.strip()))
    for name in names:
        if len(name) > 64:
            raise ValidationError({"args_required": f"{name[:20]!r}… is longer than 64 characters."})
    return names


def validate_jinja_template(value: Any, *, field: str = "static_reply_template") -> str:
    """Jinja2, compiled (not rendered) by the renderer itself: its sandbox and its `{{ .x }}` shorthand."""
    text = _text(value, field=field)
    if text.strip():
        problem = check_syntax(text)
        if problem:
            raise ValidationError({field: f"Jinja2 syntax error on {problem}"})
    return text


def _text(value: Any, *, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError({field: "Must be text."})
    if len(value) > MAX_TEMPLATE_CHARS:
        raise ValidationError({field: f"Longer than {MAX_TEMPLATE_CHARS} characters."})
    return value


def _bool(value: Any, *, field: str) -> bool:
    if isinstance(value, bool):
        return value
    raise ValidationError({field: "Must be true or false."})


_CLEANERS = {
    "name": validate_tool_name,
    "description": lambda v: _text(v, field="description").strip(),
    "url": validate_url_template,
    "method": validate_method,
    "enabled": lambda v: _bool(v, field="enabled"),
    "use_codex_response": lambda v: _bool(v, field="use_codex_response"),
    "args_required": parse_args_required,
    "headers_template": validate_headers_template,
    "request_body_template": lambda v: validate_placeholders(v, field="request_body_template"),
    "parameters_schema": lambda v: validate_json_schema(v, field="parameters_schema_json", object_only=True),
    "response_schema": lambda v: validate_json_schema(v, field="response_schema_json"),
    "response_mapper": validate_response_mapper,
    "static_reply_template": validate_jinja_template,
    "codex_prompt": lambda v: _text(v, field="codex_prompt"),
}
TOOL_FIELDS = tuple(_CLEANERS)


def clean_tool_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate the given fields (any subset) and return them under the model's names.

    Accepts the reference's names (`parameters_schema_json`, `headers_template_json`, …) and the plain
    ones. Unknown keys are ignored. Raises one ValidationError listing every bad field.
    """
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for target, cleaner in _CLEANERS.items():
        names = FIELD_ALIASES.get(target, (target,))
        given = [n for n in names if n in data]
        if not given:
            continue
        try:
            cleaned[target] = cleaner(data[given[0]])
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    return cleaned
