"""Celery tasks of the integrations app (eager in-process by default; real workers when REDIS_URL is
set): running a Codex script in the sandbox, and the periodic cleanup of expired files."""

from __future__ import annotations

import dataclasses
from typing import Any

from celery import shared_task

from integrations.models import SavedResponse
from integrations.sandbox import SandboxBusy, SandboxLimits, run_python, truncation_note
from integrations.saved import saved_response_bytes


@shared_task(name="integrations.tasks.run_codex_script")
def run_codex_script(
    saved_response_id: str, script: str, output_name: str, max_output_bytes: int | None = None
) -> dict[str, Any]:
    """Run a model-written script over a saved response: `script.py input.json <output_name>`.

    `max_output_bytes` caps the output file: the script's file-size limit (RLIMIT_FSIZE) is one byte
    more, and a longer output is cut to the cap with a note "[output truncated at N KiB]"
    (`truncated: True`). Returns {"ok", "output" (the output file's text), "error", "stdout",
    "exit_code", "signal", "timed_out", "protections", "truncated", "refused"}; never raises for
    script failures.
    """
    saved = SavedResponse.objects.filter(id=saved_response_id).first()
    if saved is None:
        return {"ok": False, "error": "Saved response not found (expired?)."}
    try:
        payload = saved_response_bytes(saved)
    except OSError:
        return {"ok": False, "error": "Saved response file is missing."}
    limits = SandboxLimits.from_settings()
    if max_output_bytes is not None:
        limits = dataclasses.replace(
            limits,
            output_bytes=max_output_bytes,
            file_size_bytes=min(limits.file_size_bytes, max_output_bytes + 1),
        )
    try:
        result = run_python(
            script,
            inputs={"input.json": payload},
            outputs=(output_name,),
            argv=("input.json", output_name),
            limits=limits,
        )
    except SandboxBusy as exc:
        return {"ok": False, "error": f"The script runner is busy ({exc}); try again in a moment."}
    raw = result.outputs.get(output_name)
    truncated = output_name in result.truncated
    output = raw.decode("utf-8", errors="replace") if raw is not None else ""
    if truncated:
        output += f"\n[{truncation_note(limits.output_cap)}]"
    # A script stopped only because its output reached the cap still answered: keep the cut text.
    stopped_by_cap = truncated and not result.timed_out and not result.refused and result.hit_file_size_limit
    ok = raw is not None and (result.ok or stopped_by_cap)
    error = ""
    if not ok:
        error = result.describe_failure() if not result.ok else f"The script did not create {output_name}."
    return {
        "ok": ok,
        "output": output,
        "error": error,
        "stdout": result.stdout,
        "exit_code": result.exit_code,
        "signal": result.signal_name,
        "timed_out": result.timed_out,
        "protections": result.protections,
        "truncated": truncated,
        "refused": result.refused,
    }


@shared_task(name="integrations.tasks.cleanup_expired")
def cleanup_expired() -> dict[str, int]:
    from integrations.cleanup import cleanup_expired as run_cleanup

    return run_cleanup()
