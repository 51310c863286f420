"""One list of system-tool names (bots.rules.SYSTEM_TOOL_NAMES): the engine's registry accepts only
tools it names, and an integration may take none of them."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from bots.rules import ALWAYS_ON_TOOLS, SYSTEM_TOOL_NAMES
from conversations.engine import tools as registry
from integrations.validation import validate_tool_name


class _Unlisted:
    name = "not_a_listed_system_tool"
    can_disable = True


class _SwitchableSetMetadata:
    name = "set_metadata"
    can_disable = True


def test_every_registered_system_tool_is_listed():
    assert registry.system_tool_names() == SYSTEM_TOOL_NAMES
    assert {tool.name for tool in registry.system_tools() if not tool.can_disable} <= ALWAYS_ON_TOOLS


def test_the_registry_refuses_a_system_tool_the_list_does_not_name():
    with pytest.raises(ValueError, match="SYSTEM_TOOL_NAMES"):
        registry.register_system_tool(_Unlisted())
    with pytest.raises(ValueError, match="SYSTEM_TOOL_NAMES"):
        registry.register_system_tool(_Unlisted(), aliases=("set_metadata",))
    assert _Unlisted.name not in registry.system_tool_names()


def test_the_registry_refuses_switching_off_an_always_on_tool():
    with pytest.raises(ValueError, match="ALWAYS_ON_TOOLS"):
        registry.register_system_tool(_SwitchableSetMetadata())
    assert all(not tool.can_disable for tool in registry.system_tools() if tool.name == "set_metadata")


@pytest.mark.parametrize("name", sorted(SYSTEM_TOOL_NAMES))
def test_an_integration_may_not_take_a_system_tool_name(name):
    with pytest.raises(ValidationError, match="system tool name"):
        validate_tool_name(name)
