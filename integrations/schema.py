"""The function definition the model sees for an HTTP tool (INVENTORY §6.1), and the check of the
arguments it sends back.

Shape kept from the reference: `{args, wait_reply, next_reply}` with `args` described by the tool's
JSON Schema, required args always appended, and in Codex mode the intent fields `fields_required` and
`why_api_was_called` (the reference lost their descriptions; here they are applied). Unlike the
reference, the args ARE validated against the schema (jsonschema, Draft 2020-12) before any request
is sent; the violations go back to the model as a tool error it can correct on its next step.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

if TYPE_CHECKING:
    from integrations.models import IntegrationTool

INTENT_FIELDS: dict[str, str] = {
    "fields_required": "Fields required from the HTTP response to craft the final user-facing response.",
    "why_api_was_called": "User intent or business reason for calling this API.",
}
LEGACY_INTENT_FIELDS: dict[str, str] = {
    "what_to_search_for": "Legacy alias of fields_required.",
    "why_to_search_for": "Legacy alias of why_api_was_called.",
}
ALL_INTENT_KEYS = frozenset(INTENT_FIELDS) | frozenset(LEGACY_INTENT_FIELDS)

WAIT_REPLY = {
    "type": "string",
    "description": "Short filler message to say while the tool runs (not used for set_metadata).",
}
NEXT_REPLY = {
    "type": "string",
    "description": "What the assistant should say next (no second LLM call). Variables like {{.firstName}} are allowed.",
}
_NORMAL_SUFFIX = "Return your spoken/text response in next_reply (you can use metadata variables like {{.firstName}})."
_CODEX_SUFFIX = (
    "If Codex mode is enabled, the backend runs a Codex agent to generate a result string, "
    "and the main chat model will rephrase it."
)


def args_schema(tool: IntegrationTool) -> dict[str, Any]:
    """The JSON Schema of `args`: the tool's schema (when an object schema) plus required args and,
    in Codex mode, the described intent fields."""
    required_args = [str(a) for a in (tool.args_required or []) if str(a).strip()]
    base = tool.parameters_schema
    if isinstance(base, Mapping) and base.get("type", "object") == "object":
        schema: dict[str, Any] = copy.deepcopy(dict(base))
    else:
        schema = {"type": "object", "properties": {}, "required": [], "additionalProperties": True}
    schema["type"] = "object"
    schema.setdefault("additionalProperties", True)
    properties = schema.setdefault("properties", {})
    required = schema.setdefault("required", [])
    if not isinstance(properties, dict):
        properties = schema["properties"] = {}
    if not isinstance(required, list):
        required = schema["required"] = []
    for name in required_args:
        properties.setdefault(name, {"type": "string"})
        if name not in required:
            required.append(name)
    if tool.use_codex_response:
        for name, description in INTENT_FIELDS.items():
            existing = properties.get(name) if isinstance(properties.get(name), dict) else {}
            properties[name] = {"type": "string", **existing, "description": description}
            if name not in required:
                required.append(name)
        for name, description in LEGACY_INTENT_FIELDS.items():
            properties.setdefault(name, {"type": "string", "description": description})
    return schema


def tool_definition(tool: IntegrationTool) -> dict[str, Any]:
    """The Responses-API function tool for this integration."""
    args = {"description": "Arguments used to call the integration (required).", **args_schema(tool)}
    properties: dict[str, Any] = {"wait_reply": dict(WAIT_REPLY), "args": args}
    required = ["args"]
    if not tool.use_codex_response:
        properties["next_reply"] = dict(NEXT_REPLY)
        required.append("next_reply")
    description = (
        (tool.description or "").strip()
        + " This tool calls an external HTTP API and maps selected response fields into conversation metadata. "
        + (_CODEX_SUFFIX if tool.use_codex_response else _NORMAL_SUFFIX)
    ).strip()
    return {
        "type": "function",
        "name": tool.name,
        "description": description,
        "parameters": {
            "type": "object",
            "properties": properties,
            "additionalProperties": True,
            "required": required,
        },
        "strict": False,
    }


def split_call_arguments(arguments: Mapping[str, Any]) -> tuple[dict[str, Any], str, str]:
    """(args, next_reply, wait_reply) from what the model sent. `args` is `arguments["args"]` when it is
    an object, else the top-level keys minus the reply fields (the reference's fallback)."""
    next_reply = arguments.get("next_reply")
    wait_reply = arguments.get("wait_reply")
    inner = arguments.get("args")
    if isinstance(inner, Mapping):
        args = dict(inner)
    else:
        args = {k: v for k, v in arguments.items() if k not in ("next_reply", "wait_reply", "args")}
    return (
        args,
        next_reply if isinstance(next_reply, str) else "",
        wait_reply if isinstance(wait_reply, str) else "",
    )


def validate_args(tool: IntegrationTool, args: Mapping[str, Any]) -> list[str]:
    """Problems with `args` as messages the model can act on ([] when valid)."""
    schema = args_schema(tool)
    problems: list[str] = []
    try:
        validator = Draft202012Validator(schema)
        for error in sorted(validator.iter_errors(dict(args)), key=lambda e: list(e.absolute_path)):
            where = "/".join(str(p) for p in error.absolute_path)
            problems.append(f"args{'.' + where.replace('/', '.') if where else ''}: {error.message}"[:300])
    except SchemaError as exc:
        problems.append(f"the tool's parameters schema is invalid: {exc.message}"[:300])
    for name in schema.get("required", []):
        value = args.get(name)
        if name in args and (value is None or (isinstance(value, str) and not value.strip())):
            problems.append(f"args.{name}: must not be empty")
    if tool.use_codex_response:
        for main, legacy in (("fields_required", "what_to_search_for"), ("why_api_was_called", "why_to_search_for")):
            if not str(args.get(main) or args.get(legacy) or "").strip():
                message = f"args: '{main}' is a required property"
                if message not in problems:
                    problems.append(message)
    return problems[:10]
