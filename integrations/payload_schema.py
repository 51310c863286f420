"""The schema the Codex model sees instead of the data (INVENTORY §8.1).

Only a description of the response's shape ever reaches the Codex model, never the values. We use the
tool's own `response_schema` when its top-level type fits the payload, else a derived "tree schema":
objects list their (sorted, at most 800) keys, arrays describe a merge of their first 25 items,
primitives name their type, depth is capped at 8 and conflicting types merge to "a|b".
"""

from __future__ import annotations

import json
from typing import Any

MAX_KEYS = 800
MAX_ITEMS = 25
MAX_DEPTH = 8
MAX_PROMPT_CHARS = 24_000


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "unknown"


def _merge(a: dict[str, Any] | None, b: dict[str, Any]) -> dict[str, Any]:
    if a is None:
        return b
    ta, tb = a.get("__type__"), b.get("__type__")
    if ta != tb:
        names = sorted(set(str(ta).split("|")) | set(str(tb).split("|")))
        return {"__type__": "|".join(names)}
    if ta == "object":
        merged = {"__type__": "object"}
        for key in sorted((set(a) | set(b)) - {"__type__"})[:MAX_KEYS]:
            merged[key] = _merge(a.get(key), b[key]) if key in b else a[key]
        return merged
    if ta == "array":
        items_a, items_b = a.get("items"), b.get("items")
        if items_b is None:
            return a
        return {"__type__": "array", "items": _merge(items_a, items_b)}
    return a


def derive_schema(value: Any, depth: int = 0) -> dict[str, Any]:
    if depth >= MAX_DEPTH:
        return {"__type__": "unknown"}
    kind = _type_name(value)
    if kind == "object":
        tree: dict[str, Any] = {"__type__": "object"}
        for key in sorted(value, key=str)[:MAX_KEYS]:
            tree[str(key)] = derive_schema(value[key], depth + 1)
        return tree
    if kind == "array":
        items: dict[str, Any] | None = None
        for item in value[:MAX_ITEMS]:
            items = _merge(items, derive_schema(item, depth + 1))
        return {"__type__": "array", "items": items} if items is not None else {"__type__": "array"}
    return {"__type__": kind}


def schema_for_payload(given: Any, payload: Any) -> tuple[dict[str, Any], bool]:
    """(schema, derived?) — the given schema when its top-level type matches the payload."""
    if isinstance(given, dict) and given:
        declared = given.get("type")
        kind = _type_name(payload)
        if declared is None or declared == kind or (isinstance(declared, list) and kind in declared):
            return given, False
        if not isinstance(declared, str) or declared not in ("object", "array"):
            return given, False
    return derive_schema(payload), True


def schema_prompt_text(schema: dict[str, Any]) -> str:
    return json.dumps(schema, ensure_ascii=False, indent=1)[:MAX_PROMPT_CHARS]
