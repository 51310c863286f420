"""Static reply templates: Jinja2 in its SandboxedEnvironment (INVENTORY §7.2), failing closed.

A tool's `static_reply_template` is written by a staff user but rendered with values that come from a
third-party response and from the model (args), so it runs sandboxed: no attribute access to Python
internals, bounded `range`, and string/list multiplication and powers capped so a template cannot
build a gigabyte string. Any error renders "" (the caller then falls back to next_reply or a model
follow-up), as the reference does.

The convenience `{{ .firstName }}` → `{{ meta.firstName }}` rewrite applies ONLY inside `{{ }}` and
`{% %}` blocks and outside string literals, so literal text such as "example .com" is left alone
(the reference rewrote the whole source).
"""

from __future__ import annotations

import logging
import operator
import re
from functools import lru_cache
from typing import Any

from jinja2 import Template, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

logger = logging.getLogger(__name__)

MAX_OUTPUT_CHARS = 20_000
_MAX_SEQUENCE = 100_000
_BLOCK_RE = re.compile(r"({{.*?}}|{%.*?%})", re.DOTALL)
_STRING_RE = re.compile(r"""('(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*")""")
_SHORTHAND_RE = re.compile(r"(?<![A-Za-z0-9_\]\)'\"])\.([A-Za-z_][A-Za-z0-9_]*)")


class _BoundedSandbox(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "**":
            if isinstance(right, int) and abs(right) > 64:
                raise OverflowError("exponent too large")
            return operator.pow(left, right)
        if isinstance(left, (str, list, tuple)) and isinstance(right, int) and len(left) * right > _MAX_SEQUENCE:
            raise OverflowError("sequence too large")
        if isinstance(right, (str, list, tuple)) and isinstance(left, int) and len(right) * left > _MAX_SEQUENCE:
            raise OverflowError("sequence too large")
        return operator.mul(left, right)


_env = _BoundedSandbox(autoescape=False)


def expand_shorthand(source: str) -> str:
    """Rewrite `.name` to `meta.name` inside template blocks only, never inside string literals."""

    def rewrite_code(code: str) -> str:
        pieces = _STRING_RE.split(code)
        return "".join(p if i % 2 else _SHORTHAND_RE.sub(r"meta.\1", p) for i, p in enumerate(pieces))

    def rewrite_block(match: re.Match[str]) -> str:
        block = match.group(0)
        return block[:2] + rewrite_code(block[2:-2]) + block[-2:]

    return _BLOCK_RE.sub(rewrite_block, source)


@lru_cache(maxsize=256)
def _compile(source: str) -> Template:
    return _env.from_string(expand_shorthand(source))


def check_syntax(source: str) -> str | None:
    """None when `source` compiles, else the syntax error message (for form/API validation)."""
    try:
        _compile(source)
    except TemplateSyntaxError as exc:
        return f"line {exc.lineno}: {exc.message}"
    return None


def render_static_reply(source: str | None, *, meta: Any, response: Any, args: Any, params: Any | None = None) -> str:
    """Render a static reply; "" when the template is blank or anything goes wrong (fail closed)."""
    if not source or not source.strip():
        return ""
    try:
        text = _compile(source).render(meta=meta or {}, response=response, args=args or {}, params=params or args or {})
    except Exception as exc:  # fail closed: a broken template must never break the turn
        logger.info("static reply template failed: %s", exc)
        return ""
    return text.strip()[:MAX_OUTPUT_CHARS]
