"""What a successful response changes: the response mapper (into metadata) and the optional
response-schema check.

The mapper is `{metadata_key: template}`; a template that is exactly one placeholder keeps the raw
value (dict, list, number, None), dict/list/null template values are stored literally, and dotted
keys become nested metadata through `merge_metadata` (INVENTORY §6.3, §7.4). A response that does not
match the tool's response schema is reported in the tool result, never raised: third-party APIs drift,
and the user's turn should still get an answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from conversations.templating import eval_template_value, merge_metadata

MAX_SCHEMA_ERRORS = 5


def apply_response_mapper(mapper: Any, *, response: Any, meta: Mapping[str, Any], args: Any) -> dict[str, Any]:
    """The metadata patch the mapper produces ({} when the mapper is not an object)."""
    if not isinstance(mapper, Mapping):
        return {}
    ctx = {"response": response, "meta": dict(meta or {}), "args": args or {}, "params": args or {}}
    patch: dict[str, Any] = {}
    for key, template in mapper.items():
        if not isinstance(key, str) or not key.strip():
            continue
        if template is None or isinstance(template, (dict, list)):
            patch[key] = template
        else:
            patch[key] = eval_template_value(str(template), ctx)
    return patch


def map_into_metadata(
    mapper: Any, *, response: Any, meta: Mapping[str, Any], args: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(patch, new full metadata)."""
    patch = apply_response_mapper(mapper, response=response, meta=meta, args=args)
    return patch, merge_metadata(meta, patch) if patch else dict(meta or {})


def validate_response(schema: Any, payload: Any) -> dict[str, Any] | None:
    """None when there is no schema; else {"valid": bool, "errors": [...]} (never raises)."""
    if not isinstance(schema, Mapping) or not schema:
        return None
    try:
        validator = Draft202012Validator(schema)
        errors = sorted(validator.iter_errors(payload), key=lambda e: list(e.absolute_path))
    except SchemaError as exc:
        return {"valid": False, "errors": [f"response schema is invalid: {exc.message}"]}
    messages = [
        f"{'/'.join(str(p) for p in err.absolute_path) or '(root)'}: {err.message}"[:300]
        for err in errors[:MAX_SCHEMA_ERRORS]
    ]
    return {"valid": not errors, "errors": messages}
