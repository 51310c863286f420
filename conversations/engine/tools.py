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


def tools_for_bot(bot: Bot) -> list[Tool]:
    """Every tool offered to the model for this bot: enabled system tools, then provider tools.

    Providers run synchronous ORM code; call this from a thread (sync_to_async) in async code.
    """
    disabled = disabled_names(bot)
    offered: list[Tool] = [t for t in _system_tools.values() if t.name not in disabled]
    taken = {t.name for t in offered} | set(_aliases)
    for provider in _providers:
        for tool in provider(bot):
            if tool.name in disabled or tool.name in taken or tool.name in _system_tools:
                continue
            offered.append(tool)
            taken.add(tool.name)
    return offered


def find_tool(bot: Bot, name: str) -> tuple[Tool | None, str]:
    """Resolve a called name to (tool, reason). reason is "" when found, else "disabled" or "unknown"."""
    wanted = canonical_name(name)
    for tool in tools_for_bot(bot):
        if tool.name == wanted:
            return tool, ""
    if wanted in _system_tools or any(t.name == wanted for p in _providers for t in p(bot)):
        return None, "disabled"
    return None, "unknown"
