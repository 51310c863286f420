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
