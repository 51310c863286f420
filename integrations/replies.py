"""Static reply templates: Jinja2 in its SandboxedEnvironment (INVENTORY §7.2), with budgets.

A tool's `static_reply_template` is written by a staff user but rendered with values that come from a
third-party response and from the model (args), so it runs sandboxed: no attribute access to Python
internals, and two budgets that every way of growing or looping runs into:

- Output: no value the template builds, and not the whole output, may exceed
  `VOICEBOT_TEMPLATE_MAX_OUTPUT_KIB`. The size is worked out BEFORE the text is built wherever the
  operation could build a large text from small inputs: `~` and `+`, `*` on strings, lists and
  integers, `**`, `%` and `|format` (widths and precisions included), `str.format` fields, the
  `center`/`ljust`/`rjust`/`zfill`/`expandtabs`/`replace`/`join` methods, the `center`, `indent`,
  `join`, `replace`, `wordwrap`, `urlize`, `batch` and `slice` filters, and `lipsum`. Every other
  filter, method call and printed `{{ }}` is measured (containers deeply, so a list holding the same
  list a thousand times counts a thousand times), and lists grown by `append`/`extend` are re-measured
  after each call. The final output is joined through a bounded `concat`.
- Time: `VOICEBOT_TEMPLATE_TIME_BUDGET_MS`, checked cooperatively on every loop iteration (each `for`
  iterates through a checking wrapper), call, attribute lookup, operator, `~` and filter. A thread
  cannot be killed, so the check is what stops a render; the sizes above bound each single step.

Rendering is synchronous; async callers run it in a worker thread (`render_reply_async`) so the event
loop keeps serving while a template runs. `render_reply` raises TemplateBudgetError with a message
staff can act on ("template exceeded its output budget of 256 KiB", "template took longer than
1000 ms"); `render_static_reply` fails closed to "" for callers that only want text.

The convenience `{{ .firstName }}` → `{{ meta.firstName }}` rewrite applies ONLY inside `{{ }}` and
`{% %}` blocks and outside string literals, so literal text such as "example .com" is left alone
(the reference rewrote the whole source).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
import operator
import re
import time
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache, update_wrapper, wraps
from typing import Any

from django.conf import settings
from jinja2 import Template, TemplateSyntaxError, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import Namespace, Undefined
from jinja2.sandbox import SandboxedEnvironment, SandboxedFormatter
from jinja2.utils import generate_lorem_ipsum

from conversations.templating import TemplateBudgetError, output_budget_chars, output_budget_error

logger = logging.getLogger(__name__)

__all__ = [
    "TemplateBudgetError",
    "check_syntax",
    "expand_shorthand",
    "render_reply",
    "render_reply_async",
    "render_static_reply",
]

MAX_OUTPUT_CHARS = 20_000  # what a reply keeps (it is spoken); the budget bounds what is built
_BLOCK_RE = re.compile(r"({{.*?}}|{%.*?%})", re.DOTALL)
_STRING_RE = re.compile(r"""('(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*")""")
_SHORTHAND_RE = re.compile(r"(?<![A-Za-z0-9_\]\)}'\"])\.([A-Za-z_][A-Za-z0-9_]*)")
# printf-style conversion: %(key)flags width .precision length type
_PERCENT_RE = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d*))?[hlL]?([diouxXeEfFgGcrsa%])")
# format-spec mini language: ... width [grouping] [.precision] [type]
_SPEC_RE = re.compile(r"(\d+)?[,_]?(?:\.(\d+))?[a-zA-Z%]?$")
_FIELD_SLACK = 400  # what one formatted number may need beyond its width/precision (1e308 → 309 digits)
_INT_DIGITS_PER_BIT = 0.302
_CONTAINER_MUTATORS = frozenset({"append", "extend", "insert", "update", "setdefault", "add"})


# --- the budget of one render ----------------------------------------------------------------------


@dataclass
class _Budget:
    max_chars: int
    time_ms: int
    deadline: float

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise TemplateBudgetError(f"template took longer than {self.time_ms} ms")

    def charge(self, size: float) -> None:
        if size > self.max_chars:
            raise output_budget_error()

    def hold(self, value: Any) -> None:
        """Charge what building `value` itself costs (a string's length, a container's slots); what
        its items would print to is measured where it is printed."""
        self.charge(shallow_size(value))

    def measure(self, *values: Any) -> int:
        """The printed size of `values` (deep), stopping early once it is over the budget."""
        total = 0
        for value in values:
            total += weight(value, self.max_chars - total)
            self.charge(total)
        return total


_active: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("template_budget", default=None)


def _budget() -> _Budget:
    """The running render's budget; outside a render (compile-time constant folding) an output budget
    with no clock."""
    budget = _active.get()
    if budget is None:
        return _Budget(max_chars=output_budget_chars(), time_ms=0, deadline=math.inf)
    return budget


def shallow_size(value: Any) -> int:
    if isinstance(value, (str, bytes, bytearray)):
        return len(value)
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        return 2 + 2 * len(value)
    return 0


def weight(value: Any, limit: int) -> int:
    """About how many characters `str(value)` would have, walking containers (aliases counted every
    time they appear, as str() would); stops as soon as the count passes `limit`."""
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, (str, bytes, bytearray)):
            total += len(item)
        elif item is None or isinstance(item, (bool, float, Undefined)):
            total += 8
        elif isinstance(item, int):
            total += int(item.bit_length() * _INT_DIGITS_PER_BIT) + 2
        elif isinstance(item, range):
            widest = max(abs(item.start), abs(item.stop))
            total += len(item) * (len(str(widest)) + 2)
        elif isinstance(item, Namespace):
            stack.append(dict(item._Namespace__attrs))  # type: ignore[attr-defined]
        elif isinstance(item, Mapping):
            total += 2 + 4 * len(item)
            if total <= limit:
                stack.extend(item.keys())
                stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += 2 + 2 * len(item)
            if total <= limit:
                stack.extend(item)
        else:
            total += 16
        if total > limit:
            return total
    return total


# --- sizes worked out before building -------------------------------------------------------------


def _percent_size(fmt: str, args: Any) -> int:
    """An upper bound on `fmt % args` (printf style, as `%` and `|format` do)."""
    budget = _budget()
    size = len(fmt) + budget.measure(args)
    for width, precision, _kind in _PERCENT_RE.findall(fmt):
        if width == "*" or precision == "*":
            raise TemplateBudgetError("'*' widths are not supported in templates")
        size += int(width or 0) + int(precision or 0) + _FIELD_SLACK
        budget.charge(size)
    return size


def _spec_size(spec: str) -> int:
    match = _SPEC_RE.search(spec or "")
    if not match:
        return _FIELD_SLACK
    width, precision = match.groups()
    return int(width or 0) + int(precision or 0) + _FIELD_SLACK


class _BoundedFormatter(SandboxedFormatter):
    """`str.format` / `format_map` in templates: each field's width and precision count against the
    budget before the field is formatted."""

    def vformat(self, format_string: str, args: Any, kwargs: Any) -> str:
        self._room = _budget().max_chars - len(format_string)
        return super().vformat(format_string, args, kwargs)

    def format_field(self, value: Any, format_spec: str) -> Any:
        budget = _budget()
        budget.tick()
        self._room -= _spec_size(format_spec) + weight(value, budget.max_chars)
        if self._room < 0:
            raise output_budget_error()
        return super().format_field(value, format_spec)


def _str_method_size(method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int | None:
    """Upper bound on the result of a growing `str` method (None for the others)."""
    text = method.__self__
    name = method.__name__
    if name in ("center", "ljust", "rjust", "zfill") and args and isinstance(args[0], int):
        return max(len(text), args[0])
    if name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        return len(text) + text.count("\t") * max(int(size), 0)
    if name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        return _replace_size(text, args[0], args[1], args[2] if len(args) > 2 else kwargs.get("count", -1))
    if name == "join" and args:
        return -1  # measured on the materialized items by the caller
    return None


def _replace_size(text: str, old: str, new: str, count: Any) -> int:
    occurrences = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        occurrences = min(occurrences, count)
    return len(text) + occurrences * max(len(new) - len(old), 0)


# --- the environment -------------------------------------------------------------------------------


class _BudgetCodeGenerator(CodeGenerator):
    """Compiles `~` to a bounded join and makes every `for` iterate through a budget check."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.bounded_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")

    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:
        # Before the generator collects the filters a template uses, so the added one is found.
        for loop in node.find_all(nodes.For):
            if not (isinstance(loop.iter, nodes.Filter) and loop.iter.name == _ITER_FILTER):
                loop.iter = nodes.Filter(loop.iter, _ITER_FILTER, [], [], None, None, lineno=loop.lineno)
        super().visit_Template(node, frame)


_ITER_FILTER = "budget_iter"
# Filters whose result can be much larger than their input, with the bound worked out beforehand.
_GROWING_FILTERS: dict[str, Callable[..., int]] = {}
# Filters that neither print their input nor grow it: no need to measure the input first.
_NON_PRINTING_FILTERS = frozenset(
    {
        "abs",
        "attr",
        "batch",
        "count",
        "d",
        "default",
        "dictsort",
        "first",
        "float",
        "groupby",
        "int",
        "items",
        "last",
        "length",
        "list",
        "map",
        "max",
        "min",
        "random",
        "reject",
        "rejectattr",
        "reverse",
        "round",
        "select",
        "selectattr",
        "slice",
        "sort",
        "sum",
        "unique",
        _ITER_FILTER,
    }
)


def _growing(name: str) -> Callable[[Callable[..., int]], Callable[..., int]]:
    def register(estimate: Callable[..., int]) -> Callable[..., int]:
        _GROWING_FILTERS[name] = estimate
        return estimate

    return register


@_growing("center")
def _center_size(value: Any, width: int = 80, *_: Any, **__: Any) -> int:
    return max(len(str(value)), int(width))


@_growing("indent")
def _indent_size(value: Any, width: Any = 4, *_: Any, **__: Any) -> int:
    text = str(value)
    pad = len(width) if isinstance(width, str) else max(int(width), 0)
    return len(text) + (text.count("\n") + 1) * pad


@_growing("format")
def _format_size(value: Any, *args: Any, **kwargs: Any) -> int:
    return _percent_size(str(value), kwargs or args)


@_growing("replace")
def _replace_filter_size(value: Any, old: Any, new: Any, count: Any = None, **_: Any) -> int:
    return _replace_size(str(value), str(old), str(new), -1 if count is None else count)


@_growing("wordwrap")
def _wordwrap_size(value: Any, width: int = 79, _break: Any = True, wrapstring: Any = None, *_: Any, **kw: Any) -> int:
    text = str(value)
    wrap = kw.get("wrapstring", wrapstring)
    breaks = len(text) // max(int(kw.get("width", width)), 1) + text.count(" ") + text.count("\n") + 1
    return len(text) + breaks * len(wrap if isinstance(wrap, str) else "\n")


@_growing("urlize")
def _urlize_size(value: Any, *args: Any, **kwargs: Any) -> int:
    text = str(value)
    extra = sum(len(str(v)) for v in (*args, *kwargs.values()) if isinstance(v, str))
    return 3 * len(text) + (text.count(" ") + text.count("\n") + 1) * (64 + extra)


@_growing("batch")
def _batch_size(value: Any, linecount: int, fill_with: Any = None, **_: Any) -> int:
    return 0 if fill_with is None else int(linecount) * (weight(fill_with, _budget().max_chars) + 2)


@_growing("slice")
def _slice_size(value: Any, slices: int, fill_with: Any = None, **_: Any) -> int:
    return int(slices) * (2 + (0 if fill_with is None else weight(fill_with, _budget().max_chars) + 2))


def _budget_iter(iterable: Any) -> Iterator[Any]:
    budget = _budget()
    for item in iterable:
        budget.tick()
        yield item


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    passes_first = getattr(func, "jinja_pass_arg", None) is not None
    estimate = _GROWING_FILTERS.get(name)
    prints_input = name not in _NON_PRINTING_FILTERS

    @wraps(func)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        budget = _budget()
        budget.tick()
        own = args[1:] if passes_first else args
        if name == "join" and own:
            items = list(own[0]) if not isinstance(own[0], str) else own[0]
            separator = own[1] if len(own) > 1 else kwargs.get("d", "")
            budget.charge(budget.measure(items) + len(str(separator)) * len(items))
            args = (*args[: len(args) - len(own)], items, *own[1:])
        elif prints_input and own:
            budget.measure(own[0])
        if estimate is not None and own:
            budget.charge(estimate(*own, **kwargs))
        result = func(*args, **kwargs)
        budget.hold(result)
        return result

    return bounded


def _bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    _budget().charge(int(n) * int(max) * 16)
    return generate_lorem_ipsum(n=n, html=html, min=min, max=max)


def _measure_printed(value: Any) -> Any:
    """`finalize`: every `{{ }}` value is measured before it is turned into text."""
    _budget().measure(value)
    return value


class _BoundedSandbox(SandboxedEnvironment):
    code_generator_class = _BudgetCodeGenerator
    intercepted_binops = frozenset({"+", "*", "%", "**"})

    def __init__(self, **options: Any) -> None:
        super().__init__(finalize=_measure_printed, **options)
        self.filters = {name: _bounded_filter(name, func) for name, func in self.filters.items()}
        self.filters[_ITER_FILTER] = _budget_iter
        self.globals["lipsum"] = _bounded_lipsum

    @staticmethod
    def concat(parts: Iterable[str]) -> str:  # type: ignore[override]
        budget = _budget()
        out: list[str] = []
        size = 0
        for part in parts:
            budget.tick()
            size += len(part)
            budget.charge(size)
            out.append(part)
        return "".join(out)

    @staticmethod
    def bounded_concat(parts: tuple[Any, ...]) -> str:
        budget = _budget()
        budget.tick()
        budget.measure(*parts)
        text = "".join(str(part) for part in parts)
        budget.charge(len(text))
        return text

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        budget = _budget()
        budget.tick()
        if operator_name == "**":
            if isinstance(right, int) and abs(right) > 64:
                raise OverflowError("exponent too large")
            if isinstance(left, int) and isinstance(right, int) and right > 0:
                budget.charge(left.bit_length() * right * _INT_DIGITS_PER_BIT)
            return operator.pow(left, right)
        if operator_name == "*":
            if isinstance(left, int) and isinstance(right, int):
                budget.charge((left.bit_length() + right.bit_length()) * _INT_DIGITS_PER_BIT)
            elif isinstance(right, int) and isinstance(left, (str, list, tuple)):
                budget.charge(shallow_size(left) * right)
            elif isinstance(left, int) and isinstance(right, (str, list, tuple)):
                budget.charge(shallow_size(right) * left)
            result = operator.mul(left, right)
        elif operator_name == "+":
            budget.charge(shallow_size(left) + shallow_size(right))
            result = operator.add(left, right)
        elif operator_name == "%" and isinstance(left, str):
            _percent_size(left, right)
            result = operator.mod(left, right)
        else:
            result = self.binop_table[operator_name](left, right)
        budget.hold(result)
        return result

    def getattr(self, obj: Any, attribute: str) -> Any:
        _budget().tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _budget().tick()
        return super().getitem(obj, argument)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        if not isinstance(value, (types.MethodType, types.BuiltinMethodType)) or value.__name__ not in (
            "format",
            "format_map",
        ):
            return None
        f_self = value.__self__
        if not isinstance(f_self, str):
            return None
        if value.__name__ == "format_map":
            formatter = _BoundedFormatter(self)

            def format_map(mapping: Any) -> str:
                return str(formatter.vformat(f_self, (), mapping))

            return update_wrapper(format_map, value)
        formatter = _BoundedFormatter(self)

        def format_(*args: Any, **kwargs: Any) -> str:
            return str(formatter.vformat(f_self, args, kwargs))

        return update_wrapper(format_, value)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        budget = _budget()
        budget.tick()
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str) and isinstance(__obj, types.BuiltinMethodType):
            size = _str_method_size(__obj, args, kwargs)
            if size == -1:  # str.join: materialize, measure, then join
                items = list(args[0])
                budget.charge(budget.measure(items) + len(owner) * len(items))
                args = (items, *args[1:])
            elif size is not None:
                budget.charge(size)
        result = super().call(__context, __obj, *args, **kwargs)
        budget.hold(result)
        if isinstance(owner, (list, dict, set)) and getattr(__obj, "__name__", "") in _CONTAINER_MUTATORS:
            budget.hold(owner)  # `append`/`extend` in a loop grow a list without making a new one
        return result


_env = _BoundedSandbox(autoescape=False)


def expand_shorthand(source: str) -> str:
    """Rewrite `.name` to `meta.name` inside template blocks only, never inside string literals."""

    def rewrite_code(code: str) -> str:
        pieces = _STRING_RE.split(code)
        out = []
        for i, piece in enumerate(pieces):
            if i % 2:  # a string literal
                out.append(piece)
            elif i and piece.startswith("."):  # a method of the literal before it: 'a'.upper()
                out.append("." + _SHORTHAND_RE.sub(r"meta.\1", piece[1:]))
            else:
                out.append(_SHORTHAND_RE.sub(r"meta.\1", piece))
        return "".join(out)

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


def _time_budget_ms() -> int:
    return int(getattr(settings, "VOICEBOT_TEMPLATE_TIME_BUDGET_MS", 1000))


def render_reply(source: str | None, *, meta: Any, response: Any, args: Any, params: Any | None = None) -> str:
    """Render a static reply within its budgets (synchronous: async callers use `render_reply_async`).

    "" for a blank template or one that fails for any reason but its budgets (fail closed: a broken
    template must never break the turn); raises TemplateBudgetError when it would build more than
    the output budget or runs past the time budget.
    """
    if not source or not source.strip():
        return ""
    time_ms = _time_budget_ms()
    budget = _Budget(max_chars=output_budget_chars(), time_ms=time_ms, deadline=time.monotonic() + time_ms / 1000)
    token = _active.set(budget)
    try:
        text = _compile(source).render(meta=meta or {}, response=response, args=args or {}, params=params or args or {})
    except TemplateBudgetError:
        raise
    except MemoryError:
        raise output_budget_error() from None
    except Exception as exc:  # fail closed
        logger.info("static reply template failed: %s", exc)
        return ""
    finally:
        _active.reset(token)
    return text.strip()[:MAX_OUTPUT_CHARS]


async def render_reply_async(
    source: str | None, *, meta: Any, response: Any, args: Any, params: Any | None = None
) -> str:
    """`render_reply` in a worker thread, so the event loop keeps serving while the template runs."""
    if not source or not source.strip():
        return ""
    return await asyncio.to_thread(render_reply, source, meta=meta, response=response, args=args, params=params)


def render_static_reply(source: str | None, *, meta: Any, response: Any, args: Any, params: Any | None = None) -> str:
    """Render a static reply; "" when the template is blank or anything goes wrong, budgets included."""
    try:
        return render_reply(source, meta=meta, response=response, args=args, params=params)
    except TemplateBudgetError as exc:
        logger.info("static reply template refused: %s", exc)
        return ""
