"""Run model-written Python in a separate, limited process: `run_python`.

Why: the Codex step executes code a model wrote from attacker-influenced input (third-party response
keys, user intent text). The reference ran it with the server's environment (INVENTORY §15.1.2). Here
the script runs through `sandbox_launcher.py`, which gives it:

- an EMPTY environment (no VOICEBOT_SECRET_KEY, no DATABASE_URL, no API keys) and Python's isolated mode;
- its own fresh temp directory as cwd (inputs copied in, outputs read back, then deleted);
- rlimits: CPU seconds, address space, file size (stdout/stderr are files, so they are capped too),
  open files, processes; plus a wall-clock timeout enforced here (the process group is killed);
- no network (a fresh network namespace) and the project/data/database paths hidden (a mount
  namespace) where the OS permits it (root, or unprivileged user namespaces);
- when the server runs as root, uid/gid 65534 (nobody).

What took effect is reported in `SandboxResult.protections`. `docs/integrations.md` lists what this
does NOT stop (kernel exploits, reading world-readable files outside the hidden paths, ...).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

NOBODY = 65534
LAUNCHER = Path(__file__).with_name("sandbox_launcher.py")
_MARKER = "__SANDBOX__ "


@dataclass(frozen=True)
class SandboxLimits:
    wall_seconds: float
    cpu_seconds: int
    memory_bytes: int
    file_size_bytes: int
    open_files: int = 32
    processes: int = 1
    output_chars: int = 4000

    @classmethod
    def from_settings(cls, *, wall_seconds: float | None = None) -> SandboxLimits:
        return cls(
            wall_seconds=wall_seconds or settings.VOICEBOT_SANDBOX_WALL_SECONDS,
            cpu_seconds=settings.VOICEBOT_SANDBOX_CPU_SECONDS,
            memory_bytes=settings.VOICEBOT_SANDBOX_MEMORY_MB * 1024 * 1024,
            file_size_bytes=settings.VOICEBOT_SANDBOX_FILE_SIZE_MB * 1024 * 1024,
        )


@dataclass
class SandboxResult:
    exit_code: int | None
    stdout: str
    stderr: str
    timed_out: bool
    signal_name: str = ""  # e.g. SIGXCPU (CPU limit), SIGXFSZ (file size), SIGKILL (wall timeout)
    duration_ms: int = 0
    protections: list[str] = field(default_factory=list)
    outputs: dict[str, bytes | None] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    def describe_failure(self) -> str:
        if self.timed_out:
            return "Script was stopped after the wall-clock time limit."
        if self.signal_name:
            return f"Script was killed by {self.signal_name} (a resource limit). stderr: {self.stderr[-1000:]}"
        return f"Script failed (exit {self.exit_code}). stderr: {self.stderr[-1000:]}"


def sandbox_root() -> Path:
    root = Path(settings.VOICEBOT_SANDBOX_DIR or Path(tempfile.gettempdir()) / "voicebot-sandbox")
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o711)  # nobody may enter its own dir, but not list the others
    return root


def _world_reachable(path: Path) -> bool:
    """Can uid 65534 execute `path` (every parent searchable by others, the file executable)?"""
    try:
        resolved = path.resolve()
        if not resolved.stat().st_mode & stat.S_IXOTH:
            return False
        return all(parent.stat().st_mode & stat.S_IXOTH for parent in resolved.parents)
    except OSError:
        return False


def _hidden_paths() -> list[str]:
    paths = [Path(settings.BASE_DIR), Path(settings.MEDIA_ROOT), Path("/root"), Path("/home")]
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        for name in (db.get("NAME"), (db.get("TEST") or {}).get("NAME")):
            if name and str(name) != ":memory:" and not str(name).startswith("file:"):
                paths += [Path(f"{name}{suffix}") for suffix in ("", "-wal", "-shm", "-journal")]
    paths += [Path(p) for p in settings.VOICEBOT_SANDBOX_HIDE_PATHS]
    return sorted({str(p) for p in paths})


def interpreter() -> str:
    """The Python the script runs with: the setting, else the first candidate the sandbox user can run."""
    if settings.VOICEBOT_SANDBOX_PYTHON:
        return settings.VOICEBOT_SANDBOX_PYTHON
    candidates = [
        Path(getattr(sys, "_base_executable", sys.executable)),
        Path("/usr/bin/python3"),
        Path(sys.executable),
    ]
    if os.geteuid() != 0:
        return str(candidates[0])
    hidden = [Path(p) for p in _hidden_paths()]
    for candidate in candidates:
        resolved = candidate.resolve() if candidate.exists() else candidate
        if _world_reachable(candidate) and not any(resolved.is_relative_to(h) for h in hidden):
            return str(candidate)
    return str(candidates[0])


def _read_output(workdir: Path, name: str, cap: int) -> bytes | None:
    """Read a file the script wrote, refusing symlinks and non-regular files (no path escapes)."""
    try:
        fd = os.open(workdir / name, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None
        return handle.read(cap)


def _tail(path: Path, chars: int) -> str:
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    return data.decode("utf-8", errors="replace")[-chars:]


def run_python(
    script: str,
    *,
    inputs: dict[str, bytes] | None = None,
    outputs: tuple[str, ...] = (),
    argv: tuple[str, ...] = (),
    limits: SandboxLimits | None = None,
) -> SandboxResult:
    """Write `script` and `inputs` (file name → bytes, plain names only) into a fresh directory, run the
    script there under the limits, and return its exit status, output tails and the `outputs` files."""
    limits = limits or SandboxLimits.from_settings()
    workdir = Path(tempfile.mkdtemp(prefix=f"run-{uuid.uuid4().hex[:8]}-", dir=sandbox_root()))
    logs = Path(tempfile.mkdtemp(prefix="logs-", dir=sandbox_root()))
    os.chmod(logs, 0o700)
    try:
        for name, data in {**(inputs or {}), "script.py": script.encode("utf-8")}.items():
            if Path(name).name != name or name in ("", ".", ".."):
                raise ValueError(f"invalid sandbox file name {name!r}")
            (workdir / name).write_bytes(data)
        if os.geteuid() == 0:
            for path in [workdir, *workdir.iterdir()]:
                os.chown(path, NOBODY, NOBODY)
        os.chmod(workdir, 0o700)
        config = {
            "python": interpreter(),
            "script": "script.py",
            "argv": list(argv),
            "cwd": str(workdir),
            "cpu_seconds": limits.cpu_seconds,
            "memory_bytes": limits.memory_bytes,
            "file_size_bytes": limits.file_size_bytes,
            "open_files": limits.open_files,
            "processes": limits.processes,
            "hide_paths": _hidden_paths(),
        }
        stdout_path, stderr_path = logs / "stdout", logs / "stderr"
        started = time.monotonic()
        timed_out = False
        with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
            process = subprocess.Popen(
                [sys.executable, "-I", "-S", str(LAUNCHER), json.dumps(config)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=workdir,
                env={},
                close_fds=True,
                start_new_session=True,
            )
            try:
                process.wait(timeout=limits.wall_seconds)
            except subprocess.TimeoutExpired:
                timed_out = True
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait()
        duration_ms = int((time.monotonic() - started) * 1000)
        stderr_text = _tail(stderr_path, 1_000_000)
        protections: list[str] = []
        kept: list[str] = []
        for line in stderr_text.splitlines():
            if line.startswith(_MARKER) and not protections:
                try:
                    protections = list(json.loads(line[len(_MARKER) :]).get("protections", []))
                except ValueError:
                    pass
                continue
            kept.append(line)
        code = process.returncode
        signal_name = ""
        if code is not None and code < 0:
            try:
                signal_name = signal.Signals(-code).name
            except ValueError:
                signal_name = f"signal {-code}"
        return SandboxResult(
            exit_code=code,
            stdout=_tail(stdout_path, limits.output_chars),
            stderr="\n".join(kept)[-limits.output_chars :],
            timed_out=timed_out,
            signal_name=signal_name,
            duration_ms=duration_ms,
            protections=protections,
            outputs={name: _read_output(workdir, name, limits.file_size_bytes) for name in outputs},
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(logs, ignore_errors=True)
