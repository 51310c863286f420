"""The Codex step (INVENTORY §8): a model writes a small Python script from the SHAPE of a saved
response (never its data) and an intent, and the script runs in the sandbox over the real data.

Three flavours share one mechanism:
- `extract` (an integration call in Codex mode) and `recall` (recall_http_response): the script writes
  `result.txt`, a short human-readable answer that the main model then rephrases for the user;
- `export` (export_http_response): the script writes `export.csv` / `export.json`.

The model call goes through the engine's LLM client layer (`conversations.engine.llm`: the bot's key
or the server key, Responses API or Chat Completions) with a strict JSON-schema output; the script runs
through `integrations.tasks.run_codex_script` (a Celery task, eager by default), which reads the saved
response from storage and calls `integrations.sandbox.run_python`. Waiting for it never holds a shared
thread: eager runs get a dedicated, bounded pool (full: a "busy" tool error) and a worker's result is
polled with `asyncio.sleep`; a bot has at most `VOICEBOT_CODEX_MAX_RUNS_PER_BOT` steps in flight
(cache slots, so across processes); result text is capped at `VOICEBOT_CODEX_RESULT_KB`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from celery.exceptions import TimeoutError as CeleryTimeoutError
from django.conf import settings
from django.core.cache import cache
from django.db import connections
from kombu.exceptions import OperationalError

from conversations.engine.llm import LLMError, complete, resolve_target
from integrations.payload_schema import schema_prompt_text
from integrations.sandbox import truncation_note
from observability import observe

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
    raw = await complete(target, system=system, user=user_message, json_schema=schema_format)  # llm.py picks the API
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
    """Write the script and run it over the saved response; never raises. At most
    `VOICEBOT_CODEX_MAX_RUNS_PER_BOT` of these run at once per bot (across processes)."""
    slot = await _take_bot_slot(bot)
    if slot is None:
        observe.codex_run("busy")
        limit = settings.VOICEBOT_CODEX_MAX_RUNS_PER_BOT
        return CodexOutcome(
            ok=False,
            error=f"This bot already has {limit} Codex scripts running (its limit); try again in a moment.",
        )
    try:
        outcome = await _run_codex(
            bot=bot,
            saved=saved,
            mode=mode,
            codex_prompt=codex_prompt,
            fields_required=fields_required,
            why=why,
            export_request=export_request,
            output_format=output_format,
        )
        observe.codex_run("ok" if outcome.ok else "failed")
        return outcome
    finally:
        await _free_bot_slot(slot)


async def _run_codex(
    *,
    bot: Bot,
    saved: SavedResponse,
    mode: str,
    codex_prompt: str,
    fields_required: str,
    why: str,
    export_request: str,
    output_format: str,
) -> CodexOutcome:
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
    cap = settings.VOICEBOT_CODEX_RESULT_KB * 1024 if mode != "export" else None
    try:
        result = await run_script(str(saved.id), reply["script"], output_name, cap)
    except RunnerBusy as exc:
        return CodexOutcome(ok=False, error=str(exc))
    except (CeleryTimeoutError, OperationalError) as exc:
        # A worker that died or a broker that is gone: the user hears a clear failure, the turn goes on.
        return CodexOutcome(ok=False, error=f"The script runner did not answer ({exc.__class__.__name__}).")
    status = parse_status(result.get("stdout", ""))
    text = str(result.get("output") or "")
    error = str(result.get("error") or "")[:2000]
    ok = bool(result.get("ok"))
    if cap is not None:
        text = text.strip()
        if len(text) > cap + 100:  # a result from elsewhere (an older worker): bound it here too
            text = text[:cap] + f"\n[{truncation_note(cap)}]"
    elif result.get("truncated"):  # a cut export is a wrong file: the built-in exporter takes over
        ok = False
        error = f"The exported file was too large ({truncation_note(settings.VOICEBOT_SANDBOX_FILE_SIZE_MB << 20)})."
    outcome = CodexOutcome(
        ok=ok,
        text=text,
        error=error,
        stop_reason=str(status.get("STOP_REASON") or reply.get("STOP_REASON") or DEFAULT_STOP[mode])[:500],
        continue_reason=str(status.get("CONTINUE_REASON") or reply.get("CONTINUE_REASON") or "")[:500],
        next_step=str(status.get("next_step") or reply.get("next_step") or "STOP"),
        sandbox={k: result.get(k) for k in ("exit_code", "signal", "timed_out", "protections", "truncated", "refused")},
    )
    if outcome.ok and not outcome.text.strip():
        outcome.ok = False
        outcome.error = f"The script did not write {output_name}."
    return outcome


# --- Waiting for the script without holding a shared thread -------------------------------------


class RunnerBusy(Exception):
    """Every dedicated sandbox thread of this process is waiting for a run."""


class _SandboxRunners:
    """In eager mode (no Celery worker) a run blocks a thread for its whole wall time. It gets one of
    `VOICEBOT_SANDBOX_RUNNERS` dedicated threads of this process, never the event loop's default
    executor (which HTTP tools, DNS and `to_thread` share); when all are taken the caller hears "busy"
    at once instead of queueing. Per process, like the thread pool it guards."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._busy = 0
        self._size = 0
        self._executor: ThreadPoolExecutor | None = None

    async def run(self, *args: Any) -> dict[str, Any]:
        size = settings.VOICEBOT_SANDBOX_RUNNERS
        with self._lock:
            if self._busy >= size:
                raise RunnerBusy(f"The script runner is busy ({self._busy} scripts running); try again in a moment.")
            if self._executor is None or self._size != size:
                if self._executor is not None:
                    self._executor.shutdown(wait=False)
                self._executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="voicebot-sandbox")
                self._size = size
            self._busy += 1
            future = self._executor.submit(_run_in_this_thread, *args)
        future.add_done_callback(self._release)  # on completion, even if the awaiting turn was cancelled
        return await asyncio.wrap_future(future)

    def _release(self, _future: object) -> None:
        with self._lock:
            self._busy -= 1


def _run_in_this_thread(*args: Any) -> dict[str, Any]:
    from integrations.tasks import run_codex_script

    try:
        return run_codex_script(*args)
    finally:
        connections.close_all()  # this thread's own database connections


_RUNNERS = _SandboxRunners()


async def run_script(saved_id: str, script: str, output_name: str, max_output_bytes: int | None) -> dict[str, Any]:
    """Run the task in process (eager: a dedicated thread) or on a Celery worker (its result polled
    with asyncio.sleep). Raises RunnerBusy, CeleryTimeoutError or OperationalError."""
    from integrations.tasks import run_codex_script

    args = (saved_id, script, output_name, max_output_bytes)
    if run_codex_script.app.conf.task_always_eager:
        return await _RUNNERS.run(*args)
    pending = await asyncio.to_thread(run_codex_script.apply_async, args=list(args))
    deadline = time.monotonic() + settings.VOICEBOT_CODEX_TIMEOUT_S + settings.VOICEBOT_SANDBOX_WALL_SECONDS
    delay = 0.05
    while not await asyncio.to_thread(pending.ready):  # one short backend read per poll
        if time.monotonic() >= deadline:
            raise CeleryTimeoutError("The script runner did not answer in time.")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.5)
    result = await asyncio.to_thread(pending.get, timeout=5, propagate=False, disable_sync_subtasks=False)
    if not isinstance(result, dict):
        return {"ok": False, "error": f"The script runner failed ({result.__class__.__name__})."}
    return result


# --- At most N Codex steps per bot at once, across processes -------------------------------------


def _slot_seconds() -> int:
    """A slot frees itself after the longest a Codex step can take (model call, then the run's wait)."""
    return int(2 * settings.VOICEBOT_CODEX_TIMEOUT_S + settings.VOICEBOT_SANDBOX_WALL_SECONDS + 30)


async def _take_bot_slot(bot: Bot) -> tuple[str, str] | None:
    """One of the bot's N slots in the cache (add is atomic; each slot expires on its own, so a crashed
    process frees its slot later instead of keeping the bot blocked)."""
    token = uuid.uuid4().hex
    for index in range(settings.VOICEBOT_CODEX_MAX_RUNS_PER_BOT):
        key = f"voicebot:codex-run:{bot.pk}:{index}"
        if await cache.aadd(key, token, timeout=_slot_seconds()):
            return key, token
    return None


async def _free_bot_slot(slot: tuple[str, str]) -> None:
    key, token = slot
    if await cache.aget(key) == token:
        await cache.adelete(key)
