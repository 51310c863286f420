"""The tool registry: how system tools and integrations plug into the turn loop.

A tool is any object with `name`, `can_disable`, `definition()` and `async run(args, ctx)`.
System tools register once at import time (`register_system_tool`, from an AppConfig.ready());
per-bot tools (HTTP integrations) come from providers (`register_tool_provider`), called with the
bot each time a turn builds its tool list. The engine never imports an app above it: integrations
register themselves here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from bots.rules import ALWAYS_ON_TOOLS, SYSTEM_TOOL_NAMES

if TYPE_CHECKING:
    from bots.models import Bot
    from conversations.engine.events import Event
    from conversations.models import Conversation


@dataclass
class ToolContext:
    """What a tool may read or do while it runs."""

    conversation: Conversation
    bot: Bot
    metadata: dict[str, Any]  # current metadata (a copy; return changes through ToolOutcome.metadata)
    call_id: str  # the model's call id; server-side artefacts are keyed by their own ids, never by this
    emit: Callable[[Event], Awaitable[None]]  # send Interim(...) progress to the user while running


@dataclass
class ToolOutcome:
    """What the engine does after a tool ran.

    - `result` goes back to the model as the function-call output (JSON-serialisable).
    - `metadata`, when not None, is the conversation's new full metadata (already merged and saved).
    - `reply`, when a non-empty string, is said to the user as the turn's answer without another model
      call (next_reply / static reply template); None means "ask the model again with the result".
    """

    result: Any
    ok: bool = True
    metadata: dict[str, Any] | None = None
    reply: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Tool(Protocol):
    name: str
    can_disable: bool

    def definition(self) -> dict[str, Any]:
        """Responses-API function tool: {"type":"function","name","description","parameters","strict":False}."""
        ...

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolOutcome: ...


ToolProvider = Callable[["Bot"], Iterable[Tool]]

_system_tools: dict[str, Tool] = {}
_aliases: dict[str, str] = {}
_providers: list[ToolProvider] = []


def register_system_tool(tool: Tool, *, aliases: Iterable[str] = ()) -> None:
    """Register a system tool; its names must be in `bots.rules.SYSTEM_TOOL_NAMES` (the one list that
    integration-name validation reads) and its `can_disable` must agree with `ALWAYS_ON_TOOLS`."""
    aliases = tuple(aliases)
    unlisted = sorted({tool.name, *aliases} - SYSTEM_TOOL_NAMES)
    if unlisted:
        raise ValueError(f"System tool names {unlisted} are missing from bots.rules.SYSTEM_TOOL_NAMES.")
    if tool.can_disable == (tool.name in ALWAYS_ON_TOOLS):
        raise ValueError(f"{tool.name}: can_disable disagrees with bots.rules.ALWAYS_ON_TOOLS.")
    _system_tools[tool.name] = tool
    for alias in aliases:
        _aliases[alias] = tool.name


def register_tool_provider(provider: ToolProvider) -> None:
    if provider not in _providers:
        _providers.append(provider)


def canonical_name(name: str) -> str:
    return _aliases.get(name, name)


def system_tools() -> list[Tool]:
    """Registered system tools in registration order (set_metadata first)."""
    return list(_system_tools.values())


def system_tool_names() -> set[str]:
    return set(_system_tools) | set(_aliases)


def disabled_names(bot: Bot) -> set[str]:
    names = {canonical_name(n) for n in (bot.disabled_tools or []) if isinstance(n, str)}
    return {n for n in names if not (n in _system_tools and not _system_tools[n].can_disable)}


@dataclass
class ToolSet:
    """The tools of one bot for one turn, resolved once (providers run a query each)."""

    offered: list[Tool]
    known_names: set[str]  # every name some tool answers to, offered or disabled
    disabled: set[str]

    def definitions(self) -> list[dict[str, Any]]:
        return [tool.definition() for tool in self.offered]

    def find(self, name: str) -> tuple[Tool | None, str]:
        """(tool, "") when offered, else (None, "disabled" | "unknown")."""
        wanted = canonical_name(name)
        for tool in self.offered:
            if tool.name == wanted:
                return tool, ""
        return None, ("disabled" if wanted in self.known_names else "unknown")


def resolve_tools(bot: Bot) -> ToolSet:
    """Enabled system tools (registration order), then provider tools not shadowing a taken name.

    Synchronous (providers run ORM code): call it from a thread in async code.
    """
    disabled = disabled_names(bot)
    offered: list[Tool] = [t for t in _system_tools.values() if t.name not in disabled]
    known = set(_system_tools)
    taken = {t.name for t in offered} | set(_aliases) | set(_system_tools)
    for provider in _providers:
        for tool in provider(bot):
            known.add(tool.name)
            if tool.name in disabled or tool.name in taken:
                continue
            offered.append(tool)
            taken.add(tool.name)
    return ToolSet(offered=offered, known_names=known, disabled=disabled)


def tools_for_bot(bot: Bot) -> list[Tool]:
    """Every tool offered to the model for this bot: enabled system tools, then provider tools.

    Providers run synchronous ORM code; call this from a thread (sync_to_async) in async code.
    """
    return resolve_tools(bot).offered


def find_tool(bot: Bot, name: str) -> tuple[Tool | None, str]:
    """Resolve a called name to (tool, reason). reason is "" when found, else "disabled" or "unknown"."""
    return resolve_tools(bot).find(name)
