"""The tool-name rules every app reads: one pattern, one list of system-tool names.

`bots` is the leaf, so the rules live here: `integrations` validates tool names with them, the
engine's tool registry refuses a system tool this list does not name, and `bots.services` cleans a
bot's `disabled_tools` with them. A new bot's `disabled_tools` (backend tools stay off until their
backend is configured) is decided here too.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.core.validators import RegexValidator

# OpenAI's function-name rule.
TOOL_NAME_RE = r"^[a-zA-Z0-9_-]{1,64}$"
TOOL_NAME_MESSAGE = "Use 1-64 letters, digits, _ or - (OpenAI's function name rule)."
tool_name_validator = RegexValidator(TOOL_NAME_RE, TOOL_NAME_MESSAGE)
_TOOL_NAME = re.compile(TOOL_NAME_RE)

# Every name a system tool answers to (aliases included). An integration may not take one (the
# system tool is offered first, so it would be silently shadowed), and the engine's registry only
# accepts system tools named here.
SYSTEM_TOOL_NAMES = frozenset(
    {"set_metadata", "set_variable", "web_search", "recall_http_response", "export_http_response"}
)
# System tools a bot can never switch off (the reference drops them from disabled_tools silently).
ALWAYS_ON_TOOLS = frozenset({"set_metadata", "set_variable"})
# System tools that need a backend, with the setting that configures it: a new bot starts with them
# off unless that setting is set (the model would otherwise call a tool that can only fail).
BACKEND_TOOLS: dict[str, str] = {"web_search": "VOICEBOT_SEARXNG_URL"}


def default_disabled_tools() -> list[str]:
    """`disabled_tools` for a new bot: every backend tool whose setting is empty."""
    return sorted(name for name, setting in BACKEND_TOOLS.items() if not getattr(settings, setting, ""))


def is_tool_name(name: str) -> bool:
    return bool(_TOOL_NAME.match(name))
