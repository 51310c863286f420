"""`recall_http_response` and `export_http_response` (INVENTORY §5.3, §5.4): answer follow-up
questions about, or export, any earlier integration response of this conversation (the reference
could only do it for Codex-mode tools).

The saved response is found by tool name (newest) or by its server-made id (`source_req_id`), always
within the same conversation. Recall runs the Codex step over it; export runs the Codex export script
and falls back to the built-in record export (see `integrations.exports`). Both always let the model
write the reply (follow-up) from the result.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async

from conversations.engine.events import Interim
from conversations.engine.tools import ToolContext, ToolOutcome
from integrations.codex import run_codex
from integrations.exports import builtin_export, check_export_content, download_url, export_create
from integrations.models import SavedResponse
from integrations.saved import saved_response_find, saved_response_payload

WAIT_REPLY = {"type": "string", "description": "Short filler message to say while the tool runs."}
SOURCE_TOOL = {"type": "string", "description": "Name of the integration tool whose saved response to use."}
SOURCE_REQ_ID = {
    "type": "string",
    "description": "Exact saved_response_id of an earlier call of that tool. If omitted, uses the latest run.",
}


def _missing(args: dict[str, Any], names: tuple[str, ...]) -> list[str]:
    return sorted(n for n in names if not str(args.get(n) or "").strip())


def _not_found(tool_name: str, req_id: str) -> ToolOutcome:
    return ToolOutcome(
        result={
            "ok": False,
            "error": {
                "message": f"No saved response found for tool '{tool_name}' in this conversation.",
                "tool_name": tool_name,
                "req_id": req_id or None,
            },
        },
        ok=False,
    )


async def _find(ctx: ToolContext, tool_name: str, req_id: str) -> SavedResponse | None:
    return await sync_to_async(saved_response_find)(
        conversation=ctx.conversation, tool_name=tool_name, saved_id=req_id or None
    )


def _source_codex_prompt(saved: SavedResponse) -> str:
    return saved.tool.codex_prompt if saved.tool_id and saved.tool else ""


class RecallHttpResponseTool:
    name = "recall_http_response"
    can_disable = True

    def definition(self) -> dict[str, Any]:
        return {
            "type": "function",
            "name": self.name,
            "description": (
                "Answer a follow-up question from a previous HTTP integration response saved in this "
                "conversation, without calling the API again. A Codex agent extracts the requested fields "
                "and the result is rephrased for the user."
            ),
            "parameters": {
                "type": "object",
                "properties": {
                    "source_tool_name": SOURCE_TOOL,
                    "source_req_id": SOURCE_REQ_ID,
                    "fields_required": {
                        "type": "string",
                        "description": "Fields required from the saved response to craft the answer.",
                    },
                    "why_api_was_called": {"type": "string", "description": "The user's question or intent."},
                    "wait_reply": WAIT_REPLY,
                },
                "required": ["source_tool_name", "fields_required", "why_api_was_called"],
                "additionalProperties": True,
            },
            "strict": False,
        }

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolOutcome:
        missing = _missing(args, ("source_tool_name", "fields_required", "why_api_was_called"))
        if missing:
            return ToolOutcome(
                result={"ok": False, "error": {"message": "Missing required tool args.", "missing": missing}}, ok=False
            )
        tool_name, req_id = str(args["source_tool_name"]).strip(), str(args.get("source_req_id") or "").strip()
        saved = await _find(ctx, tool_name, req_id)
        if saved is None:
            return _not_found(tool_name, req_id)
        await ctx.emit(Interim("progress", f"Codex: calling model {ctx.bot.codex_model}…"))
        codex = await run_codex(
            bot=ctx.bot,
            saved=saved,
            mode="recall",
            codex_prompt=await sync_to_async(_source_codex_prompt)(saved),
            fields_required=str(args["fields_required"]),
            why=str(args["why_api_was_called"]),
        )
        result: dict[str, Any] = {
            "ok": True,
            "recall_source_tool": tool_name,
            "recall_source_req_id": str(saved.id),
            "codex_ok": codex.ok,
            "codex_result_text": codex.text,
            "codex_stop_reason": codex.stop_reason,
            "codex_continue_reason": codex.continue_reason,
            "codex_next_step": codex.next_step,
        }
        if codex.error:
            result["codex_error"] = codex.error
        return ToolOutcome(result=result, reply=None)


class ExportHttpResponseTool:
    name = "export_http_response"
    can_disable = True

    def definition(self) -> dict[str, Any]:
        return {
            "type": "function",
            "name": self.name,
            "description": (
                "Export a previous HTTP integration response saved in this conversation as a CSV or JSON file "
                "and get a short-lived download link for the user."
            ),
            "parameters": {
                "type": "object",
                "properties": {
                    "source_tool_name": SOURCE_TOOL,
                    "source_req_id": SOURCE_REQ_ID,
                    "output_format": {"type": "string", "enum": ["csv", "json"], "default": "csv"},
                    "export_request": {
                        "type": "string",
                        "description": "What to export: columns, ordering, grouping, aggregation.",
                    },
                    "file_name_hint": {"type": "string", "description": "Optional file name for the download."},
                    "wait_reply": WAIT_REPLY,
                },
                "required": ["source_tool_name", "export_request"],
                "additionalProperties": True,
            },
            "strict": False,
        }

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolOutcome:
        missing = _missing(args, ("source_tool_name", "export_request"))
        if missing:
            return ToolOutcome(
                result={"ok": False, "error": {"message": "Missing required tool args.", "missing": missing}}, ok=False
            )
        fmt = str(args.get("output_format") or "csv").strip().lower()
        tool_name, req_id = str(args["source_tool_name"]).strip(), str(args.get("source_req_id") or "").strip()
        if fmt not in ("csv", "json"):
            return ToolOutcome(
                result={"ok": False, "export_ok": False, "export_error": "output_format must be csv or json"},
                ok=False,
            )
        saved = await _find(ctx, tool_name, req_id)
        if saved is None:
            return _not_found(tool_name, req_id)
        await ctx.emit(Interim("progress", "Preparing the export…"))
        export_request = str(args["export_request"])
        codex = await run_codex(
            bot=ctx.bot,
            saved=saved,
            mode="export",
            codex_prompt=await sync_to_async(_source_codex_prompt)(saved),
            export_request=export_request,
            output_format=fmt,
        )
        content: bytes | None = None
        method = "codex"
        notes: list[str] = []
        if codex.ok:
            content = codex.text.encode("utf-8")
            problem = check_export_content(content, fmt)
            if problem:
                notes.append(problem)
                content = None
        elif codex.error:
            notes.append(codex.error)
        if content is None:
            payload = await sync_to_async(saved_response_payload)(saved)
            content, method = builtin_export(payload, fmt), "builtin"
        result: dict[str, Any] = {
            "export_format": fmt,
            "export_source_tool": tool_name,
            "export_source_req_id": str(saved.id),
            "export_stop_reason": codex.stop_reason,
        }
        if content is None:
            message = "; ".join(notes) or "The saved response holds no list of records to export."
            return ToolOutcome(result={"ok": False, "export_ok": False, **result, "export_error": message}, ok=False)
        export, token = await sync_to_async(export_create)(
            conversation=ctx.conversation,
            saved=saved,
            fmt=fmt,
            content=content,
            filename_hint=str(args.get("file_name_hint") or ""),
            export_request=export_request,
        )
        result.update(
            ok=True,
            export_ok=True,
            export_method=method,
            filename=export.filename,
            size_bytes=export.size_bytes,
            download_token=token.token,
            download_url=download_url(token.token),
            expires_at=token.expires_at.isoformat(),
        )
        if notes:
            result["export_notes"] = notes
        return ToolOutcome(result=result, reply=None)
