"""How the Studio shows numbers: latencies in the reference's format."""

from __future__ import annotations

from typing import Any


def fmt_ms(value: int | float | None) -> str:
    """The reference's latency format: "—", "<n>ms" under a second, else "<x.xx>s"."""
    if value is None:
        return "—"
    if value < 1000:
        return f"{int(value)}ms"
    return f"{value / 1000:.2f}s"


def latency_parts(obj: Any, fields: dict[str, str]) -> list[tuple[str, str]]:
    """[(label, formatted)] for the non-null latency attributes of `obj` named in `fields` (attr -> label)."""
    return [(label, fmt_ms(getattr(obj, attr))) for attr, label in fields.items() if getattr(obj, attr) is not None]


def fmt_duration(start: Any, end: Any) -> str:
    """A conversation's span from its first to its last message: "—", "42s", "3m 05s", "1h 02m"."""
    if start is None or end is None:
        return "—"
    seconds = max(0, int((end - start).total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
