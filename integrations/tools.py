"""Per-bot HTTP integration tools, plugged into the engine's tool registry (`http_tools_for_bot`).

`IntegrationHttpTool.run` is the whole life of one call: validate the model's args (jsonschema; a
violation goes back as an error the model can fix), build and send the request in a
worker thread, save the response for recall/export, then either map it into metadata (normal mode)
or hand it to the Codex step (Codex mode), and choose the reply: static Jinja2 template first, else
Codex → model follow-up, else rendered next_reply, else a follow-up. The raw response never goes to
the main model; only mapped keys, validation notes and Codex's result text do.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async

from bots.crypto import SecretError
from conversations.engine.events import Interim
from conversations.engine.tools import ToolContext, ToolOutcome
from conversations.services import conversation_merge_metadata, refused_keys_note, tool_metadata_patch
from conversations.templating import render_template
from integrations.codex import run_codex
from integrations.http_tool import RequestBuildError, build_request, execute
from integrations.mapping import map_into_metadata, validate_response
from integrations.models import IntegrationTool, SavedResponse
from integrations.replies import TemplateBudgetError, render_reply_async
from integrations.saved import saved_response_create
from integrations.schema import split_call_arguments, tool_definition, validate_args

if TYPE_CHECKING:
    from bots.models import Bot

INVALID_ARGS_MESSAGE = "The tool arguments are invalid. Fix them and call the tool again."


def error_outcome(error: dict[str, Any]) -> ToolOutcome:
    return ToolOutcome(result={"ok": False, "error": error}, ok=False)


def normalize_intent(args: dict[str, Any]) -> dict[str, Any]:
    """Accept the legacy intent names (what_to_search_for / why_to_search_for)."""
    args = dict(args)
    if not str(args.get("fields_required") or "").strip() and str(args.get("what_to_search_for") or "").strip():
        args["fields_required"] = args["what_to_search_for"]
    if not str(args.get("why_api_was_called") or "").strip() and str(args.get("why_to_search_for") or "").strip():
        args["why_api_was_called"] = args["why_to_search_for"]
    return args


def _store_codex_text(saved: SavedResponse, text: str) -> None:
    SavedResponse.objects.filter(pk=saved.pk).update(codex_result_text=text[:20000])


class IntegrationHttpTool:
    can_disable = True

    def __init__(self, tool: IntegrationTool) -> None:
        self.tool = tool
        self.name = tool.name

    def definition(self) -> dict[str, Any]:
        return tool_definition(self.tool)

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolOutcome:
        tool = self.tool
        call_args, next_reply, _wait = split_call_arguments(args if isinstance(args, dict) else {})
        call_args = normalize_intent(call_args)
        problems = validate_args(tool, call_args)
        if problems:
            return error_outcome({"type": "invalid_args", "message": INVALID_ARGS_MESSAGE, "problems": problems})

        meta = dict(ctx.metadata or {})
        render_ctx = {"meta": meta, "args": call_args, "params": call_args}
        try:
            request = build_request(
                method=tool.method,
                url_template=tool.url,
                headers_template=tool.get_headers_template(),
                body_template=tool.request_body_template,
                ctx=render_ctx,
            )
        except (RequestBuildError, SecretError) as exc:
            return error_outcome({"type": "config_error", "message": str(exc)})
        outcome = await asyncio.to_thread(execute, request)
        if not outcome.ok:
            return error_outcome(outcome.error or {"type": "http_error", "message": "Request failed."})

        payload = outcome.payload
        saved = await sync_to_async(saved_response_create)(
            conversation=ctx.conversation,
            tool=tool,
            payload=payload,
            status_code=outcome.status_code,
            call_id=ctx.call_id,
            fields_required=str(call_args.get("fields_required") or ""),
            why_api_was_called=str(call_args.get("why_api_was_called") or ""),
        )
        result: dict[str, Any] = {"ok": True, "saved_response_id": str(saved.id)}
        validation = validate_response(tool.response_schema, payload)
        if validation is not None:
            result["response_validation"] = validation

        new_meta: dict[str, Any] | None = None
        if not tool.use_codex_response:
            mapped, _merged = map_into_metadata(tool.response_mapper, response=payload, meta=meta, args=call_args)
            patch, refused = tool_metadata_patch(mapped)
            result["updated"] = patch
            if refused:
                result["not_updated"] = refused_keys_note(refused)
            if patch:  # the locked merge: a concurrent set_metadata is not overwritten by the turn's copy
                new_meta = await sync_to_async(conversation_merge_metadata)(conversation=ctx.conversation, patch=patch)
        meta_after = new_meta if new_meta is not None else meta

        try:  # in a worker thread: a heavy template must not stall the event loop
            static = await render_reply_async(
                tool.static_reply_template, meta=meta_after, response=payload, args=call_args
            )
        except TemplateBudgetError as exc:
            result.update(ok=False, error={"type": "template_error", "message": str(exc)})
            return ToolOutcome(result=result, metadata=new_meta, ok=False)
        if static:
            return ToolOutcome(result=result, metadata=new_meta, reply=static)

        if tool.use_codex_response:
            await ctx.emit(Interim("progress", f"Codex: calling model {ctx.bot.codex_model}…"))
            codex = await run_codex(
                bot=ctx.bot,
                saved=saved,
                mode="extract",
                codex_prompt=tool.codex_prompt,
                fields_required=str(call_args.get("fields_required") or ""),
                why=str(call_args.get("why_api_was_called") or ""),
            )
            result.update(
                codex_ok=codex.ok,
                codex_result_text=codex.text,
                codex_stop_reason=codex.stop_reason,
                codex_continue_reason=codex.continue_reason,
                codex_next_step=codex.next_step,
            )
            if codex.error:
                result["codex_error"] = codex.error
            if codex.ok:
                await sync_to_async(_store_codex_text)(saved, codex.text)
            return ToolOutcome(result=result, metadata=new_meta, reply=None)

        reply = render_template(next_reply, {"meta": meta_after}).strip() if next_reply.strip() else ""
        return ToolOutcome(result=result, metadata=new_meta, reply=reply or None)


def http_tools_for_bot(bot: Bot) -> list[IntegrationHttpTool]:
    """The tool provider: the bot's enabled HTTP tools, newest first (synchronous ORM)."""
    return [
        IntegrationHttpTool(t) for t in IntegrationTool.objects.filter(bot=bot, enabled=True).order_by("-updated_at")
    ]
