"""The model input of a turn: the system prompt and the stored history, in Responses-API items.

- The system prompt is rendered with the current metadata, after a UTC date line, and followed by
  a metadata JSON line when there is metadata (INVENTORY §4.1).
- Stored user and assistant text is sent exactly as stored, never re-rendered: a user who types
  `{{.ssn}}` reads nothing, and a reply said as "Nice to meet you Ana" stays that (§15.2 item 13).
- Tool rows become real `function_call` / `function_call_output` items paired by call id; unpaired
  rows (a turn cut off during a tool) and debug rows are left out.
- The oldest whole turns are dropped while the estimate exceeds the token budget.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from conversations.templating import render_template

if TYPE_CHECKING:
    from bots.models import Bot


class StoredRow(Protocol):
    """What the history reads of a stored message (a Message, or a `values_list(named=True)` row)."""

    role: str
    content: str
    tool_name: str
    tool_kind: str
    tool_call_id: str


DEBUG_TOOL_NAME = "debug_llm_request"
GREETING_INSTRUCTION = (
    "Generate a short opening message to start a voice conversation. Keep it concise and end with a question."
)
TOOL_LIMIT_INSTRUCTION = (
    "The tool-call limit for this turn is reached. Using the tool results above, write the reply to the user "
    "now. Do not call any tools."
)


def utc_now_line(now: datetime | None = None) -> str:
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return "Current Date Time(UTC): " + moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def system_items(bot: Bot, metadata: dict[str, Any], now: datetime | None = None) -> list[dict[str, Any]]:
    prompt = render_template(bot.system_prompt or "", {"meta": metadata})
    items = [{"role": "system", "content": f"{utc_now_line(now)}\n\n{prompt}"}]
    if metadata:
        items.append(
            {"role": "system", "content": "Conversation metadata (JSON): " + json.dumps(metadata, ensure_ascii=False)}
        )
    return items


def model_tool_output(result: Any) -> str:
    """What the model reads as a tool's output: the result without the full metadata snapshot (the
    system prompt already carries the metadata; the reference repeated it in every result)."""
    if isinstance(result, dict) and "metadata" in result:
        result = {k: v for k, v in result.items() if k != "metadata"}
    return result if isinstance(result, str) else json.dumps(result, ensure_ascii=False, default=str)


def _payload(row: StoredRow) -> dict[str, Any]:
    try:
        value = json.loads(row.content)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _estimate(item: dict[str, Any]) -> int:
    text = item.get("content") or item.get("arguments") or item.get("output") or ""
    return 4 + len(text if isinstance(text, str) else json.dumps(text)) // 4


def history_items(rows: Iterable[StoredRow]) -> list[dict[str, Any]]:
    """Stored rows (oldest first) → model input items."""
    rows = list(rows)
    calls: set[str] = set()
    results: set[str] = set()
    for row in rows:
        if row.role == "tool" and row.tool_call_id and row.tool_name != DEBUG_TOOL_NAME:
            (calls if row.tool_kind == "call" else results).add(row.tool_call_id)
    paired = calls & results

    items: list[dict[str, Any]] = []
    for row in rows:
        if row.role in ("user", "assistant"):
            if row.content:
                items.append({"role": row.role, "content": row.content})
        elif row.tool_call_id in paired:
            payload = _payload(row)
            if row.tool_kind == "call":
                arguments = payload.get("arguments", {})
                items.append(
                    {
                        "type": "function_call",
                        "call_id": row.tool_call_id,
                        "name": row.tool_name or str(payload.get("tool", "")),
                        "arguments": arguments
                        if isinstance(arguments, str)
                        else json.dumps(arguments, ensure_ascii=False),
                    }
                )
            else:
                items.append(
                    {
                        "type": "function_call_output",
                        "call_id": row.tool_call_id,
                        "output": model_tool_output(payload.get("result")),
                    }
                )
    return items


def trim_to_budget(system: list[dict[str, Any]], items: list[dict[str, Any]], budget: int) -> list[dict[str, Any]]:
    """Drop the oldest whole turns (a turn starts at a user message) while the estimate exceeds the
    budget; the latest turn always stays."""
    sizes = [_estimate(i) for i in items]
    total = sum(_estimate(i) for i in system) + sum(sizes)
    if total <= budget:
        return items
    starts = [n for n, item in enumerate(items) if item.get("role") == "user"]
    cut = 0
    for start in starts:
        if total <= budget:
            break
        if start == 0:
            continue
        total -= sum(sizes[cut:start])
        cut = start
    return items[cut:]
