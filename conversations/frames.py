"""Bounded parsing of the JSON text frames every websocket transport receives.

`json.loads` recurses once per nesting level, so a frame like `"[" * 5000` raised RecursionError
inside a consumer (close 1011 with a traceback). `parse_frame` refuses a frame that is too large or
nested too deeply *before* the JSON parser sees it: the depth is measured by one linear,
non-recursive scan of the brackets outside strings. Every problem is a `FrameError` whose message
can be sent back to the client as it is; the transport answers with an error event and keeps the
socket open.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 32  # our messages are flat objects; 32 leaves room for nested tool-like options
DEFAULT_MAX_BYTES = 65536

_STRUCTURAL = re.compile(r'[\[\]{}"\\]')


class FrameError(ValueError):
    """A text frame we will not parse. `code` is the wire error code (`bad_request`, `too_large`)."""

    def __init__(self, message: str, *, code: str = "bad_request") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.req_id: Any = None


def nesting_depth_exceeds(text: str, limit: int) -> bool:
    """Whether brackets outside JSON strings nest deeper than `limit` (a linear scan, no recursion).

    Unbalanced or malformed text is left to the JSON parser; this only bounds how deep it can go.
    """
    if text.count("[") + text.count("{") <= limit:
        return False  # cannot nest deeper than the number of openers (the common case: no scan)
    depth = 0
    in_string = False
    skip_to = -1  # the character after a backslash inside a string is escaped
    for match in _STRUCTURAL.finditer(text):
        position = match.start()
        if position < skip_to:
            continue
        char = match.group()
        if in_string:
            if char == "\\":
                skip_to = position + 2
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def parse_frame(text: str | None, *, max_bytes: int = DEFAULT_MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """Parse one JSON text frame with a byte cap and a nesting cap; raises FrameError.

    Returns whatever JSON value the frame holds (the caller checks it is the object it expects).
    """
    if text is None:
        raise FrameError("Binary frames are not supported; send JSON text")
    if len(text) > max_bytes or len(text.encode("utf-8")) > max_bytes:
        raise FrameError(f"Message too large (max {max_bytes} bytes)", code="too_large")
    if nesting_depth_exceeds(text, max_depth):
        raise FrameError(f"Invalid JSON: nested deeper than {max_depth} levels")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise FrameError("Invalid JSON") from None


MAX_REQ_ID_CHARS = 128


def parse_request(
    text: str | None, *, kinds: tuple[str, ...], max_bytes: int = DEFAULT_MAX_BYTES
) -> tuple[str, Any, dict[str, Any]]:
    """A socket request frame: `(type, req_id, message)`, or FrameError naming what is wrong.

    Both sockets share these rules: a JSON object, a `req_id` (string or integer, at most
    MAX_REQ_ID_CHARS), and a `type` among `kinds`. `FrameError.req_id` carries the request's id
    when it could be read, so the error event can be matched to its request.
    """
    message = parse_frame(text, max_bytes=max_bytes)
    if not isinstance(message, dict):
        raise FrameError("Invalid message: expected a JSON object")
    req_id = message.get("req_id")
    if req_id is None or req_id == "":
        raise FrameError("Missing req_id")
    if not isinstance(req_id, str | int) or isinstance(req_id, bool) or len(str(req_id)) > MAX_REQ_ID_CHARS:
        raise FrameError("Invalid req_id")
    kind = message.get("type")
    if not isinstance(kind, str) or kind not in kinds:
        error = FrameError(f"Unknown message type: {kind}")
        error.req_id = req_id
        raise error
    return kind, req_id, message
