"""The project's floors, read from every module's imports (docs/architecture.md).

`bots` is the ground floor and imports no other app; `conversations` stands on it; `integrations`,
`audio`, `embed` (and `telephony`, over `audio`) stand on both; `studio` is the top floor, which no app
imports. Nothing imports a
view or consumer module except the URL confs and websocket routing that mount them. Every import
counts: module level, inside functions, under TYPE_CHECKING. `config` is the project's shell: any app
may read its shared helpers (settings, the Celery app), none its URL conf or ASGI/WSGI entry points.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# app -> the apps its modules may import (itself included). `observability` (metrics, tracing, logs)
# is plumbing under the apps: it imports none of them, and any app above `bots` may use it.
ALLOWED = {
    "observability": {"observability"},
    "bots": {"bots"},
    "conversations": {"observability", "bots", "conversations"},
    "integrations": {"observability", "bots", "conversations", "integrations"},
    "audio": {"observability", "bots", "conversations", "audio"},
    "embed": {"observability", "bots", "conversations", "embed"},
    "telephony": {"observability", "bots", "conversations", "audio", "telephony"},  # a phone transport
}
ALLOWED["studio"] = {*ALLOWED, "studio"}
ALLOWED["config"] = {*ALLOWED, "config"}
MOUNTING_MODULES = {"urls", "api_urls", "routing"}  # the only modules that may import views and consumers
CONFIG_ENTRY_POINTS = ("config.urls", "config.asgi", "config.wsgi")  # they import every app


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the project's apps and config, by dotted name."""
    modules: dict[str, Path] = {}
    for app in ALLOWED:
        for path in sorted((root / app).rglob("*.py")):
            modules[_module_name(path, root)] = path
    return modules


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> list[tuple[int, str]]:
    """(line, imported project module) for every import in the file; `from pkg import mod` names `pkg.mod`."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:
                submodule = f"{module}.{alias.name}"
                found.append((node.lineno, submodule if submodule in modules else module))
    return [(line, module) for line, module in found if module.split(".")[0] in ALLOWED]


def is_view_module(module: str) -> bool:
    last = module.rpartition(".")[2]
    return (
        last in {"views", "api", "api_chat", "consumers"}
        or last.startswith("views_")
        or last.endswith("_views")
        or module == "studio.views"
        or module.startswith("studio.views.")
    )


def layering_violations(root: Path = ROOT) -> list[str]:
    modules = project_modules(root)
    problems: list[str] = []
    for name, path in modules.items():
        app = name.split(".")[0]
        where = path.relative_to(root)
        for line, imported in imports_of(name, path, modules):
            target_app = imported.split(".")[0]
            shell = target_app == "config" and not imported.startswith(CONFIG_ENTRY_POINTS)
            if target_app not in ALLOWED[app] and not shell:
                problems.append(f"{where}:{line}: {app} imports {imported} (a floor above it)")
            if is_view_module(imported) and name.rpartition(".")[2] not in MOUNTING_MODULES:
                problems.append(f"{where}:{line}: imports the view/consumer module {imported}")
    return sorted(set(problems))


def test_every_app_has_a_floor():
    apps = {path.parent.name for path in ROOT.glob("*/apps.py")}
    assert apps - set(ALLOWED) == set(), (
        "a new app: add it to ALLOWED (which apps it may import, and who may import it)"
    )


def test_it_finds_the_project_modules():
    modules = project_modules()
    assert "bots.models" in modules and "studio.urls" in modules and "conversations.engine.turn" in modules


def test_it_resolves_relative_and_submodule_imports(tmp_path):
    package = tmp_path / "bots"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from . import b\nfrom .b import thing\nfrom studio import views\n")
    (package / "b.py").write_text("thing = 1\n")
    modules = {"bots": package / "__init__.py", "bots.a": package / "a.py", "bots.b": package / "b.py"}
    assert imports_of("bots.a", package / "a.py", modules) == [(1, "bots.b"), (2, "bots.b"), (3, "studio")]


def test_bots_imports_no_other_app_and_no_app_imports_studio_or_a_view():
    assert layering_violations() == []
