"""`make bench`: run every tests/bench/bench_*.py module and print one table.

Each module exposes `run() -> list[dict]`, rows with keys `benchmark`, `metric`, `value`, `unit` and
optional `notes`. The table is printed and written to bench-results/latest.md (quoted in the README).
Select modules with `python -m tests.bench engine embed`.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
import time
import traceback
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def _modules(selected: list[str]) -> list[str]:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    if selected:
        names = [n for n in names if any(s in n for s in selected)]
    return names


def _format_value(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)


def main(argv: list[str]) -> int:
    import django

    django.setup()
    rows: list[dict] = []
    failures = 0
    for name in _modules(argv):
        started = time.perf_counter()
        print(f"== {name} ...", flush=True)
        try:
            module = importlib.import_module(f"tests.bench.{name}")
            rows.extend(module.run())
        except Exception:  # a failing benchmark is reported, the others still run
            failures += 1
            traceback.print_exc()
            rows.append({"benchmark": name, "metric": "FAILED", "value": "-", "unit": "", "notes": "see log"})
        print(f"   done in {time.perf_counter() - started:.1f}s", flush=True)
    header = "| benchmark | metric | value | unit | notes |\n|---|---|---|---|---|\n"
    body = "".join(
        f"| {r['benchmark']} | {r['metric']} | {_format_value(r['value'])} | {r.get('unit', '')} | {r.get('notes', '')} |\n"
        for r in rows
    )
    table = header + body
    print()
    print(table)
    out = Path("bench-results")
    out.mkdir(exist_ok=True)
    (out / "latest.md").write_text(table)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
