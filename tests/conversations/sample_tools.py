"""Real tools plugged in through the registry's provider hook, offered only to bots named "toolbox…"
(the registry is process-wide, so other tests' bots never see them)."""

from __future__ import annotations

from typing import Any

from conversations.engine.events import Interim
from conversations.engine.tools import ToolContext, ToolOutcome, register_tool_provider

USERS = {"ana@example.com": "u_1"}
ORDERS = {"u_1": [{"id": "o_9", "total": 42}]}


class _Tool:
    can_disable = True
    description = ""

    def definition(self) -> dict[str, Any]:
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": {"type": "object", "properties": {}, "additionalProperties": True},
            "strict": False,
        }


class LookupUser(_Tool):
    name = "lookup_user"
    description = "Find a user id by email."

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolOutcome:
        user_id = USERS.get(args.get("email", ""))
        if user_id is None:
            return ToolOutcome(result={"ok": False, "error": {"message": "No such user."}}, ok=False)
        return ToolOutcome(result={"ok": True, "user_id": user_id})


class ListOrders(_Tool):
    name = "list_orders"
    description = "List a user's orders."

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolOutcome:
        await ctx.emit(Interim(kind="progress", text="Looking up orders…"))
        return ToolOutcome(result={"ok": True, "orders": ORDERS.get(args.get("user_id", ""), [])})


class Greeter(_Tool):
    """Answers with a reply of its own (like an integration's next_reply / static template)."""

    name = "greeter"

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolOutcome:
        return ToolOutcome(result={"ok": True}, reply=f"Hello {args.get('who', 'you')}!")


class Broken(_Tool):
    name = "broken"

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolOutcome:
        raise RuntimeError("boom")


def provider(bot) -> list:
    if not bot.name.startswith("toolbox"):
        return []
    return [LookupUser(), ListOrders(), Greeter(), Broken()]


register_tool_provider(provider)
