"""The observability app is a leaf: it imports no app of the project, so every app may call it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT_APPS = {"bots", "conversations", "integrations", "audio", "embed", "studio", "telephony", "config"}


def test_observability_imports_no_project_app():
    found = []
    for path in sorted((ROOT / "observability").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            found += [f"{path.name}: {name}" for name in names if name.split(".")[0] in PROJECT_APPS]
    assert found == []


def test_it_is_installed():
    from django.apps import apps

    assert apps.is_installed("observability") and apps.is_installed("django_prometheus")
