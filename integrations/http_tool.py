"""Building and sending an integration's HTTP request (INVENTORY §6.2), safely.

Templates are rendered with `{meta, args, params}`, but each placeholder's value is encoded for the
place it lands in, so a model- or user-supplied value can never change the request's structure:

- URL: every value is percent-encoded (`&admin=true` stays data, `../` stays a path segment), so the
  scheme and host must be literal in the template;
- JSON body and headers: a value inside a JSON string is inserted JSON-escaped (a quote cannot end
  the string), a value outside a string is inserted as a JSON literal (`{"ids": {{args.ids}}}` works);
- GET: only args the URL template did not consume are sent as query parameters; lists repeat the
  key, dicts go as JSON text (the reference crashed on nested values);
- header values with CR/LF are refused (no header injection);
- the substituted values of each template may add at most `VOICEBOT_TEMPLATE_MAX_OUTPUT_KIB`
  (a placeholder repeated a thousand times over a large metadata value is a config error, not 5 GB).

`execute` sends the request through `integrations.egress.fetch` (SSRF policy, caps, timeouts) and
returns either the parsed response or an error dict for the model; it is synchronous and the tool
calls it from a worker thread.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from conversations.templating import (
    PLACEHOLDER_RE,
    TemplateBudgetError,
    eval_template_value,
    output_budget_chars,
    output_budget_error,
    render_template,
    stringify,
)
from integrations.egress import EgressError, fetch
from integrations.schema import ALL_INTENT_KEYS

ERROR_BODY_CHARS = 300
_CONSUMED_RE = re.compile(r"^\s*(?:args|params)\.([A-Za-z0-9_-]+)")


class RequestBuildError(Exception):
    """The tool's templates cannot produce a valid request (a configuration problem)."""


@dataclass
class PreparedRequest:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    # The tool's own header names (they may carry credentials): dropped on a cross-origin redirect.
    secret_headers: tuple[str, ...] = ()


def _value(expression: str, ctx: Mapping[str, Any]) -> Any:
    return eval_template_value("{{" + expression + "}}", ctx)


class _Room:
    """What the substituted values of one template may still add (the output budget)."""

    def __init__(self) -> None:
        self.left = output_budget_chars()

    def take(self, text: str) -> str:
        self.left -= len(text)
        if self.left < 0:
            raise RequestBuildError(str(output_budget_error()))
        return text


def render_url(template: str, ctx: Mapping[str, Any]) -> str:
    room = _Room()
    return PLACEHOLDER_RE.sub(lambda m: room.take(quote(stringify(_value(m.group(1), ctx)), safe="")), template or "")


def consumed_arg_names(*templates: str) -> set[str]:
    """Top-level arg names a template reads (`{{args.city}}` / `{{params.city}}` consume `city`)."""
    names: set[str] = set()
    for template in templates:
        for match in PLACEHOLDER_RE.finditer(template or ""):
            found = _CONSUMED_RE.match(match.group(1))
            if found:
                names.add(found.group(1))
    return names


def render_json_template(template: str, ctx: Mapping[str, Any]) -> str:
    """Render a JSON text template, encoding each value for its position (in or out of a string)."""
    out: list[str] = []
    room = _Room()
    in_string = False
    i = 0
    n = len(template)
    while i < n:
        if template.startswith("{{", i):
            match = PLACEHOLDER_RE.match(template, i)
            if match:
                value = _value(match.group(1), ctx)
                if in_string:
                    out.append(room.take(json.dumps(stringify(value), ensure_ascii=False)[1:-1]))
                else:
                    out.append(room.take(json.dumps(value, ensure_ascii=False, default=str)))
                i = match.end()
                continue
        char = template[i]
        if in_string and char == "\\" and i + 1 < n:
            out.append(template[i : i + 2])
            i += 2
            continue
        if char == '"':
            in_string = not in_string
        out.append(char)
        i += 1
    return "".join(out)


def _query_pairs(args: Mapping[str, Any]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for key, value in args.items():
        if value is None:
            continue
        if isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
            pairs += [(key, stringify(v)) for v in value if v is not None]
        else:
            pairs.append((key, stringify(value)))
    return pairs


def _headers(template: str, ctx: Mapping[str, Any]) -> dict[str, str]:
    if not template or not template.strip() or template.strip() == "{}":
        return {}
    rendered = render_json_template(template, ctx)
    try:
        parsed = json.loads(rendered)
    except ValueError as exc:
        raise RequestBuildError(f"The headers template is not valid JSON after rendering: {exc}") from exc
    if not isinstance(parsed, dict):
        raise RequestBuildError("The headers template must be a JSON object.")
    headers: dict[str, str] = {}
    for key, value in parsed.items():
        if not isinstance(key, str) or not key.strip() or value is None:
            continue
        text = value if isinstance(value, str) else stringify(value)
        if any(c in key + text for c in "\r\n\0"):
            raise RequestBuildError(f"Header {key!r} contains a line break.")
        headers[key.strip()] = text
    return headers


def build_request(
    *, method: str, url_template: str, headers_template: str, body_template: str, ctx: Mapping[str, Any]
) -> PreparedRequest:
    """The request to send. `ctx["args"]` are the tool args; intent keys are never sent upstream."""
    method = (method or "GET").upper()
    args = {k: v for k, v in (ctx.get("args") or {}).items() if k not in ALL_INTENT_KEYS}
    url = render_url(url_template, ctx)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise RequestBuildError("The tool URL must start with http:// or https:// and a host.")
    headers = _headers(headers_template, ctx)
    secret_headers = tuple(headers)
    body: bytes | None = None
    if method == "GET":
        consumed = consumed_arg_names(url_template, headers_template)
        extra = _query_pairs({k: v for k, v in args.items() if k not in consumed})
        if extra:
            url += ("&" if parts.query else "?") + urlencode(extra)
    else:
        template = (body_template or "").strip()
        if template in ("", "{}"):
            content, is_json = json.dumps(args, ensure_ascii=False), True
        else:
            content = render_json_template(template, ctx)
            try:
                json.loads(content)
                is_json = True
            except ValueError:
                try:
                    content, is_json = render_template(template, ctx, strict=True), False
                except TemplateBudgetError as exc:
                    raise RequestBuildError(str(exc)) from None
        body = content.encode("utf-8")
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json" if is_json else "text/plain; charset=utf-8"
    headers.setdefault("Accept", "application/json")
    headers.setdefault("User-Agent", "VoiceBotStudio/1.0")
    return PreparedRequest(method=method, url=url, headers=headers, body=body, secret_headers=secret_headers)


@dataclass
class HttpOutcome:
    ok: bool
    payload: Any = None  # parsed JSON (or {"raw": text}) on success
    status_code: int | None = None
    error: dict[str, Any] | None = None


def execute(request: PreparedRequest) -> HttpOutcome:
    """Send the request (SSRF policy, caps, timeouts); an error status or failure becomes `error`."""
    try:
        response = fetch(
            request.method,
            request.url,
            headers=request.headers,
            body=request.body,
            secret_headers=request.secret_headers,
        )
    except EgressError as exc:
        return HttpOutcome(ok=False, error={"type": exc.code, "message": exc.message, "url": exc.url or request.url})
    if response.status_code >= 400:
        return HttpOutcome(
            ok=False,
            status_code=response.status_code,
            error={
                "type": "http_error",
                "status_code": response.status_code,
                "message": response.reason or "HTTP error",
                "url": response.url,
                "body": response.text[:ERROR_BODY_CHARS],
            },
        )
    try:
        payload = response.json() if response.content.strip() else {}
    except ValueError:
        payload = {"raw": response.text}
    return HttpOutcome(ok=True, payload=payload, status_code=response.status_code)
