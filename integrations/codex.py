"""The Codex step (INVENTORY §8): a model writes a small Python script from the SHAPE of a saved
response (never its data) and an intent, and the script runs in the sandbox over the real data.

Three flavours share one mechanism:
- `extract` (an integration call in Codex mode) and `recall` (recall_http_response): the script writes
  `result.txt`, a short human-readable answer that the main model then rephrases for the user;
- `export` (export_http_response): the script writes `export.csv` / `export.json`.

The model call goes through the engine's LLM client layer (`conversations.engine.llm`: the bot's key
or the server key, Responses API or Chat Completions) with a strict JSON-schema output; the script runs
through `integrations.tasks.run_codex_script` (a Celery task, eager by default), which reads the saved
response from storage and calls `integrations.sandbox.run_python`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from celery.exceptions import TimeoutError as CeleryTimeoutError
from django.conf import settings
from kombu.exceptions import OperationalError

from conversations.engine.llm import CHAT_COMPLETIONS, LLMError, client_for, describe_error, resolve_target
from integrations.payload_schema import schema_prompt_text

if TYPE_CHECKING:
    from bots.models import Bot
    from integrations.models import SavedResponse

SCRIPT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "STOP_REASON": {"type": "string"},
        "CONTINUE_REASON": {"type": "string"},
        "next_step": {"type": "string", "enum": ["STOP", "CONTINUE"]},
        "script": {"type": "string"},
    },
    "required": ["STOP_REASON", "CONTINUE_REASON", "next_step", "script"],
}
SCHEMA_NAMES = {
    "extract": "codex_http_one_shot",
    "recall": "codex_http_recall_one_shot",
    "export": "codex_http_export_one_shot",
}
DEFAULT_STOP = {"extract": "ONE_SHOT_COMPLETED", "recall": "RECALL_ONE_SHOT_COMPLETED", "export": "EXPORT_WRITTEN"}
STATUS_PREFIX = "__IGX_STATUS__="

_RULES = (
    "Standard library only. No network, no subprocess, no threads, no environment variables. "
    "Deterministic. Never print the raw data; print only the final status line "
    f"'{STATUS_PREFIX}' followed by a JSON object with next_step STOP. "
    "Return only JSON matching the schema (the script goes in 'script')."
)
SYSTEM_PROMPTS = {
    "extract": (
        "You are a Python data extraction and summarisation agent. Write a script that reads the JSON file "
        "given as argv[1] and writes to the path given as argv[2] a single human-readable text that answers "
        "FIELDS_REQUIRED for the purpose WHY_API_WAS_CALLED. The response is already filtered upstream, so "
        "do not add query logic; pick the minimal fields needed. " + _RULES
    ),
    "recall": (
        "You are a Python data extraction and summarisation agent. Write a script that reads the JSON file "
        "given as argv[1] and writes to the path given as argv[2] a single human-readable text that answers "
        "FIELDS_REQUIRED for the purpose WHY_API_WAS_CALLED. " + _RULES
    ),
    "export": (
        "You are a Python export agent. Write a small script that reads the JSON file given as argv[1] and "
        "writes exactly one file to the path given as argv[2] in OUTPUT_FORMAT. Extract and aggregate only, "
        "no filtering unless EXPORT_REQUEST asks for it. For CSV: a header row, UTF-8, one row per record "
        "(otherwise a single summary row). For JSON: valid JSON. " + _RULES
    ),
}


@dataclass
class CodexOutcome:
    ok: bool
    text: str = ""  # result text (extract/recall) or the exported file's text (export)
    error: str = ""
    stop_reason: str = ""
    continue_reason: str = ""
    next_step: str = "STOP"
    sandbox: dict[str, Any] = dataclasses.field(default_factory=dict)


def build_user_message(
    mode: str,
    *,
    schema: dict[str, Any],
    fields_required: str = "",
    why: str = "",
    export_request: str = "",
    output_format: str = "csv",
) -> str:
    output_name = f"export.{output_format}" if mode == "export" else "result.txt"
    lines = []
    if mode == "export":
        lines += [f"EXPORT_REQUEST: {export_request[:2000]}", f"OUTPUT_FORMAT: {output_format}"]
    else:
        lines += [f"FIELDS_REQUIRED: {fields_required[:2000]}", f"WHY_API_WAS_CALLED: {why[:2000]}"]
    lines += [
        "INPUT_JSON_PATH: argv[1] (input.json)",
        "INPUT_SCHEMA_JSON:",
        schema_prompt_text(schema),
        f"{'OUTPUT_FILE_PATH' if mode == 'export' else 'RESULT_TEXT_PATH'}: argv[2] ({output_name})",
    ]
    return "\n".join(lines)


def _parse_script_reply(raw: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise LLMError(f"Codex did not return valid JSON: {exc}; raw={raw[:500]}", "codex_bad_output") from exc
    if not isinstance(data, dict) or not isinstance(data.get("script"), str):
        raise LLMError("Codex did not return a script.", "codex_bad_output")
    if not data["script"].strip():
        raise LLMError("Codex returned an empty script.", "codex_bad_output")
    return data


async def write_script(bot: Bot, mode: str, system_extra: str, user_message: str) -> dict[str, Any]:
    """Ask bot.codex_model for the script; returns the parsed JSON reply. Raises LLMError."""
    target = await sync_to_async(resolve_target)(bot)
    target = dataclasses.replace(target, model=bot.codex_model or target.model)
    system = SYSTEM_PROMPTS[mode] + (f"\n\nTOOL_CODEX_PROMPT:\n{system_extra}" if system_extra.strip() else "")
    schema_format = {"name": SCHEMA_NAMES[mode], "strict": True, "schema": SCRIPT_SCHEMA}
    client = client_for(target)
    try:
        if target.api_style == CHAT_COMPLETIONS:
            reply = await client.chat.completions.create(
                model=target.model,
                messages=[{"role": "system", "content": system}, {"role": "user", "content": user_message}],
                response_format={"type": "json_schema", "json_schema": schema_format},
            )
            raw = reply.choices[0].message.content or "" if reply.choices else ""
        else:
            reply = await client.responses.create(
                model=target.model,
                input=[
                    {"role": "system", "content": [{"type": "input_text", "text": system}]},
                    {"role": "user", "content": [{"type": "input_text", "text": user_message}]},
                ],
                text={"format": {"type": "json_schema", **schema_format}},
            )
            raw = reply.output_text or ""
    except Exception as exc:  # SDK errors become readable LLMErrors
        raise describe_error(exc) from exc
    return _parse_script_reply(raw)


def parse_status(stdout: str) -> dict[str, Any]:
    for line in reversed(stdout.splitlines()):
        if line.startswith(STATUS_PREFIX):
            try:
                value = json.loads(line[len(STATUS_PREFIX) :])
            except ValueError:
                return {}
            return value if isinstance(value, dict) else {}
    return {}


async def run_codex(
    *,
    bot: Bot,
    saved: SavedResponse,
    mode: str,
    codex_prompt: str = "",
    fields_required: str = "",
    why: str = "",
    export_request: str = "",
    output_format: str = "csv",
) -> CodexOutcome:
    """Write the script and run it over the saved response; never raises."""
    from integrations.tasks import run_codex_script

    user_message = build_user_message(
        mode,
        schema=saved.response_schema or {},
        fields_required=fields_required,
        why=why,
        export_request=export_request,
        output_format=output_format,
    )
    try:
        reply = await asyncio.wait_for(
            write_script(bot, mode, codex_prompt, user_message), timeout=settings.VOICEBOT_CODEX_TIMEOUT_S
        )
    except TimeoutError:
        return CodexOutcome(ok=False, error="The Codex model did not answer in time.")
    except LLMError as exc:
        return CodexOutcome(ok=False, error=exc.message)
    output_name = f"export.{output_format}" if mode == "export" else "result.txt"
    try:
        result = await asyncio.to_thread(
            lambda: run_codex_script.apply_async(args=[str(saved.id), reply["script"], output_name]).get(
                timeout=settings.VOICEBOT_CODEX_TIMEOUT_S + settings.VOICEBOT_SANDBOX_WALL_SECONDS,
                disable_sync_subtasks=False,
            )
        )
    except (CeleryTimeoutError, OperationalError) as exc:
        # A worker that died or a broker that is gone: the user hears a clear failure, the turn goes on.
        return CodexOutcome(ok=False, error=f"The script runner did not answer ({exc.__class__.__name__}).")
    status = parse_status(result.get("stdout", ""))
    outcome = CodexOutcome(
        ok=bool(result.get("ok")),
        text=(result.get("output") or "").strip() if mode != "export" else (result.get("output") or ""),
        error=result.get("error", ""),
        stop_reason=str(status.get("STOP_REASON") or reply.get("STOP_REASON") or DEFAULT_STOP[mode])[:500],
        continue_reason=str(status.get("CONTINUE_REASON") or reply.get("CONTINUE_REASON") or "")[:500],
        next_step=str(status.get("next_step") or reply.get("next_step") or "STOP"),
        sandbox={k: result.get(k) for k in ("exit_code", "signal", "timed_out", "protections")},
    )
    if outcome.ok and not outcome.text.strip():
        outcome.ok = False
        outcome.error = f"The script did not write {output_name}."
    return outcome
