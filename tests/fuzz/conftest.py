"""Fuzz suite plumbing: every generated case calls `count_case()`, and the session ends with one line,
"fuzz: N cases, F failures", also written to test-artifacts/fuzz-summary.json for CI logs."""

from __future__ import annotations

import json
from pathlib import Path

from tests.embed.conftest import _fresh_cache, live_bot, make_key, open_socket  # noqa: F401 (fixtures)

_STATE = {"cases": 0, "tests": 0, "failed": 0}


def count_case(n: int = 1) -> None:
    _STATE["cases"] += n


def pytest_runtest_logreport(report):
    if report.when == "call":
        _STATE["tests"] += 1
        _STATE["failed"] += report.outcome == "failed"


def pytest_terminal_summary(terminalreporter):
    if not _STATE["tests"]:
        return
    line = f"fuzz: {_STATE['cases']} cases in {_STATE['tests']} tests, {_STATE['failed']} failures"
    terminalreporter.write_line(line)
    out = Path(__file__).resolve().parents[2] / "test-artifacts"
    out.mkdir(exist_ok=True)
    (out / "fuzz-summary.json").write_text(json.dumps(_STATE))
