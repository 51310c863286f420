"""The `{{ … }}` mini-templates of the reference (INVENTORY §7.1) and the metadata merge (§7.4).

Used for the system prompt, `next_reply`, integration URLs/headers/bodies and the response mapper.
Pure functions: no ORM, no I/O, so every caller (engine, integrations, Studio previews) shares one
behaviour:

- `{{.path}}` resolves in the metadata (`ctx["meta"]`, or the ctx root when there is no meta);
  `{{.}}` is the whole metadata.
- `{{meta.x}}`, `{{args.x}}`, `{{params.x}}`, `{{response.data.items[0].id}}` pick a root first;
  any other root is missing. A list is indexed either way: `items[0].id` or `items.0.id`.
- `template_problems` is the validator of this kind: it parses placeholders with the same pattern and
  root rules the renderer uses, so what it accepts renders, and what would silently render as "" (an
  unknown root, an unclosed `{{`, Jinja2 syntax) is refused with a message saying what to write.
- A missing value renders as ""; dicts, lists, bools and numbers render as JSON; nothing is escaped.

Output budget: a template can repeat a placeholder, and a placeholder can name the whole metadata or a
5 MB response, so the substituted text is capped at `VOICEBOT_TEMPLATE_MAX_OUTPUT_KIB` (the Jinja2
static replies in `integrations.replies` share the setting and `TemplateBudgetError`). By default a
placeholder that would go over renders as "" (a system prompt must not break a turn); `strict=True`
raises instead, for callers that report the error (the HTTP request builder).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

logger = logging.getLogger(__name__)

PLACEHOLDER_RE = re.compile(r"{{\s*([^}]+?)\s*}}")
_SEGMENT_RE = re.compile(r"[A-Za-z0-9_-]+|\[\d+\]")
ROOTS = ("meta", "args", "params", "response")
_MISSING = object()


class TemplateBudgetError(ValueError):
    """A template would build more text than its output budget, or ran past its time budget. The
    message is safe to show to staff ("template exceeded its output budget of 256 KiB")."""


def output_budget_kib() -> int:
    from django.conf import settings

    return int(getattr(settings, "VOICEBOT_TEMPLATE_MAX_OUTPUT_KIB", 256))


def output_budget_chars() -> int:
    return output_budget_kib() * 1024


def output_budget_error() -> TemplateBudgetError:
    return TemplateBudgetError(f"template exceeded its output budget of {output_budget_kib()} KiB")


def resolve_path(value: Any, path: str) -> Any:
    """Follow a dotted path with list indexes (`data.items[0].id` or `data.items.0.id`) into `value`.

    A missing key, an out-of-range index or a step into a non-container gives None. Characters outside
    `[A-Za-z0-9_-]` and `[N]` are skipped, as the reference does. A number after a dot indexes a list
    (the reference looked up a key "0" in it, which is always missing); on an object it is a key.
    """
    current = value
    for segment in _SEGMENT_RE.findall(path or ""):
        if current is None:
            return None
        if segment.startswith("[") or (segment.isdigit() and isinstance(current, list)):
            index = int(segment.strip("[]"))
            if not isinstance(current, list) or index >= len(current):
                return None
            current = current[index]
        elif isinstance(current, Mapping):
            current = current.get(segment)
        else:
            return None
    return current


def _lookup(expression: str, ctx: Mapping[str, Any]) -> Any:
    expression = expression.strip()
    if expression.startswith("."):
        meta = ctx.get("meta", ctx) if isinstance(ctx, Mapping) else None
        rest = expression[1:]
        return meta if not rest.strip() else resolve_path(meta, rest)
    root, _, rest = expression.partition(".")
    root_name = _SEGMENT_RE.match(root)
    name = root_name.group(0) if root_name else ""
    if name not in ROOTS:
        return None
    base = ctx.get(name)
    # `response.items[0]` (index glued to the root) still works.
    remainder = root[len(name) :] + ("." + rest if rest else "")
    return resolve_path(base, remainder) if remainder else base


_PATH = r"[A-Za-z0-9_-]+(?:\[\d+\])*"
# What the renderer resolves: `.` (all metadata), `.a.b[0]` (metadata), or a root with a path.
_EXPRESSION_RE = re.compile(rf"^(?:\.|\.{_PATH}(?:\.{_PATH})*|(?:{'|'.join(ROOTS)})(?:\[\d+\])*(?:\.{_PATH})*)$")
_OPEN_RE = re.compile(r"{{")


def template_problems(text: str | None) -> list[str]:
    """Why `text` would not render as written ([] when every placeholder resolves as it reads).

    Parsed with the renderer's own pattern (PLACEHOLDER_RE) and root rules (ROOTS, `.`), so the
    validator and the renderer cannot disagree.
    """
    if not text or ("{{" not in text and "{%" not in text):
        return []
    problems: list[str] = []
    if "{%" in text:
        problems.append(
            "{% … %} tags are Jinja2, which only the static reply uses; here write placeholders such as "
            "{{.firstName}} or {{args.user_id}}."
        )
    covered = [match.span() for match in PLACEHOLDER_RE.finditer(text)]
    for opening in _OPEN_RE.finditer(text):
        if text.startswith("{{}}", opening.start()):
            continue  # empty braces are left as they are
        if not any(start <= opening.start() < end for start, end in covered):
            problems.append(
                f"“{text[opening.start() : opening.start() + 20]}…” opens {{{{ but never closes it with }}}}."
            )
            break
    for match in PLACEHOLDER_RE.finditer(text):
        expression = match.group(1).strip()
        if _EXPRESSION_RE.match(expression):
            continue
        shown = match.group(0)
        if "|" in expression or "(" in expression or " " in expression:
            problems.append(
                f"{shown}: placeholders only pick a value (filters, calls and expressions are Jinja2, "
                "for the static reply)."
            )
        elif expression.startswith(ROOTS) or expression.startswith("."):
            problems.append(
                f"{shown}: not a path; write names and list indexes, e.g. {{{{response.data.items[0].id}}}}."
            )
        else:
            problems.append(
                f"{shown} always renders empty: a placeholder starts with . (metadata, e.g. {{{{.{expression}}}}}), "
                "meta., args., params. or response."
            )
    return problems


def stringify(value: Any) -> str:
    """None → ""; dict/list/bool/int/float → JSON; anything else → str()."""
    if value is None:
        return ""
    if isinstance(value, (dict, list, bool, int, float)):
        try:
            return json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError):
            return ""
    try:
        return str(value)
    except Exception:  # a broken __str__ must not break a reply
        return ""


def render_template(text: str | None, ctx: Mapping[str, Any] | None, *, strict: bool = False) -> str:
    """Replace every `{{ expr }}` in `text`; text without `{{` comes back unchanged.

    The substituted values may add at most the output budget to `text`; past it a placeholder renders
    as "" (logged), or with `strict` TemplateBudgetError is raised.
    """
    if not text:
        return ""
    if "{{" not in text:
        return text
    context = ctx or {}
    room = output_budget_chars()
    over = False

    def replace(match: re.Match[str]) -> str:
        nonlocal room, over
        if over:
            return ""
        try:
            value = stringify(_lookup(match.group(1), context))
        except Exception:
            return ""
        room -= len(value)
        if room < 0:
            if strict:
                raise output_budget_error()
            over = True
            logger.warning("template placeholders past the output budget render as empty text")
            return ""
        return value

    return PLACEHOLDER_RE.sub(replace, text)


def eval_template_value(template: str | None, ctx: Mapping[str, Any] | None) -> Any:
    """The response mapper's evaluation: a template that is exactly one placeholder gives the raw value
    (dict, list, number or None); anything else renders as a string; an empty template gives None."""
    if template is None:
        return None
    stripped = template.strip()
    if not stripped:
        return None
    match = PLACEHOLDER_RE.fullmatch(stripped)
    if match:
        try:
            return _lookup(match.group(1), ctx or {})
        except Exception:
            return None
    return render_template(template, ctx)


def merge_metadata(meta: Mapping[str, Any] | None, patch: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return a new dict: `meta` with `patch` applied (INVENTORY §7.4).

    - `user.id` becomes nested dicts; a non-dict intermediate is overwritten; empty segments are skipped.
    - A key with a leading or trailing dot (`.x`, `x.`) is stored as-is.
    - Leaves are replaced, not deep-merged. `meta` itself is never mutated (nested dicts on the path
      are copied).
    """
    merged: dict[str, Any] = dict(meta) if isinstance(meta, Mapping) else {}
    for raw_key, value in (patch or {}).items():
        key = str(raw_key)
        if "." not in key or key.startswith(".") or key.endswith("."):
            merged[key] = value
            continue
        parts = [p for p in key.split(".") if p]
        if not parts:
            merged[key] = value
            continue
        node = merged
        for part in parts[:-1]:
            child = node.get(part)
            child = dict(child) if isinstance(child, dict) else {}
            node[part] = child
            node = child
        node[parts[-1]] = value
    return merged
