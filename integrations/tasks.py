"""Celery tasks of the integrations app (eager in-process by default; real workers when REDIS_URL is
set): running a Codex script in the sandbox, and the periodic cleanup of expired files."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from integrations.models import SavedResponse
from integrations.sandbox import SandboxLimits, run_python
from integrations.saved import saved_response_bytes


@shared_task(name="integrations.tasks.run_codex_script")
def run_codex_script(saved_response_id: str, script: str, output_name: str) -> dict[str, Any]:
    """Run a model-written script over a saved response: `script.py input.json <output_name>`.

    Returns {"ok", "output" (the output file's text), "error", "stdout", "exit_code", "signal",
    "timed_out", "protections"}; never raises for script failures.
    """
    saved = SavedResponse.objects.filter(id=saved_response_id).first()
    if saved is None:
        return {"ok": False, "error": "Saved response not found (expired?)."}
    try:
        payload = saved_response_bytes(saved)
    except OSError:
        return {"ok": False, "error": "Saved response file is missing."}
    limits = SandboxLimits.from_settings()
    result = run_python(
        script,
        inputs={"input.json": payload},
        outputs=(output_name,),
        argv=("input.json", output_name),
        limits=limits,
    )
    raw = result.outputs.get(output_name)
    output = raw.decode("utf-8", errors="replace") if raw is not None else ""
    error = ""
    if not result.ok:
        error = result.describe_failure()
    elif raw is None:
        error = f"The script did not create {output_name}."
    return {
        "ok": result.ok and raw is not None,
        "output": output,
        "error": error,
        "stdout": result.stdout,
        "exit_code": result.exit_code,
        "signal": result.signal_name,
        "timed_out": result.timed_out,
        "protections": result.protections,
    }


@shared_task(name="integrations.tasks.cleanup_expired")
def cleanup_expired() -> dict[str, int]:
    from integrations.cleanup import cleanup_expired as run_cleanup

    return run_cleanup()
