"""`set_metadata` (alias `set_variable`): the model stores conversation variables (INVENTORY §5.1).

Dotted keys nest (`user.city`), `checkpoint` is an ordinary key, server-owned namespaces (`phone.*`:
`conversations.services.SERVER_OWNED_METADATA`) are refused and the result names them, and
`next_reply` rendered with the new metadata becomes the turn's reply without a second model call.
Without a `next_reply` the model is asked again with the result (the reference made a silent turn,
§15.2 item 11).
It cannot be disabled per bot.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async

from conversations.engine.tools import ToolContext, ToolOutcome
from conversations.services import conversation_merge_metadata, refused_keys_note, tool_metadata_patch
from conversations.templating import render_template

CONTROL_KEYS = ("next_reply", "wait_reply", "args")


def metadata_patch(args: dict[str, Any]) -> dict[str, Any]:
    """`args["args"]` when it is an object, else the arguments minus the control keys."""
    nested = args.get("args")
    if isinstance(nested, dict):
        return dict(nested)
    return {k: v for k, v in args.items() if k not in CONTROL_KEYS}


class SetMetadataTool:
    name = "set_metadata"
    can_disable = False
    announces_wait_reply = False  # the reference ignores wait_reply here: the tool is instant

    def definition(self) -> dict[str, Any]:
        return {
            "type": "function",
            "name": self.name,
            "description": (
                "Set or update conversation variables/metadata as key/value pairs. Include a 'next_reply' "
                "string to say to the user after updating variables."
            ),
            "parameters": {
                "type": "object",
                "properties": {
                    "next_reply": {
                        "type": "string",
                        "description": (
                            "What the assistant should say next (no second LLM call). "
                            "Variables like {{.firstName}} are allowed."
                        ),
                    },
                    "checkpoint": {"type": "string", "description": "checkpoint/state name"},
                },
                "required": ["next_reply"],
                "additionalProperties": True,
            },
            "strict": False,
        }

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolOutcome:
        patch, refused = tool_metadata_patch(metadata_patch(args))
        merged = await sync_to_async(conversation_merge_metadata)(conversation=ctx.conversation, patch=patch)
        next_reply = args.get("next_reply")
        reply = render_template(next_reply, {"meta": merged}).strip() if isinstance(next_reply, str) else ""
        result: dict[str, Any] = {"ok": True, "updated": patch, "metadata": merged}
        if refused:
            result["not_updated"] = refused_keys_note(refused)
        return ToolOutcome(
            result=result,
            metadata=merged,
            reply=reply or None,
        )


set_metadata_tool = SetMetadataTool()
