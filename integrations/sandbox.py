"""Run model-written Python in a separate, isolated, limited process: `run_python`.

Why: the Codex step executes code a model wrote from attacker-influenced input (third-party response
keys, user intent text). The reference ran it with the server's environment (INVENTORY §15.1.2). Here
the script runs through `sandbox_launcher.py`, which gives it (all REQUIRED; if any step fails the
script is not run and the result says why, `SandboxResult.refused`):

- an EMPTY environment (no VOICEBOT_SECRET_KEY, no DATABASE_URL, no API keys) and Python's isolated mode;
- its own mount, network (nothing reachable), PID (its own /proc: no other run or server process is
  visible), IPC and UTS namespaces;
- one private, size-capped tmpfs (`VOICEBOT_SANDBOX_TMPFS_MB`) behind its working directory, /tmp,
  /var/tmp and /dev/shm, covering the sandbox root so no other run's directory can be named; it is
  gone when the run ends;
- the project/data/database paths hidden;
- when the server runs as root, a uid/gid of its own, unique among concurrent runs on this host
  (`VOICEBOT_SANDBOX_UID_FIRST` .. + `VOICEBOT_SANDBOX_UID_COUNT`, held with a file lock);
- rlimits: CPU seconds, address space, file size (stdout/stderr are files, so they are capped too),
  open files, processes; a seccomp filter; and a wall-clock timeout enforced here (the process group
  is killed, and the script dies with its launcher).

Inputs are copied in by the launcher and declared outputs copied back (regular files only, at most
`output_bytes + 1` bytes: longer ones are cut and listed in `SandboxResult.truncated`).
What took effect is reported in `SandboxResult.protections`. `docs/integrations.md` lists what this
does NOT stop (kernel exploits, reading world-readable files outside the hidden paths, ...).

`run_python` blocks its calling thread for the run's wall time: call it from a Celery worker or from
the Codex step's own bounded pool (`integrations.codex`), never from a shared executor.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from observability import observe

LAUNCHER = Path(__file__).with_name("sandbox_launcher.py")
_MARKER = "__SANDBOX__ "
MIB = 1024 * 1024


class SandboxBusy(Exception):
    """Every per-run uid of the configured range is in use on this host."""


@dataclass(frozen=True)
class SandboxLimits:
    wall_seconds: float
    cpu_seconds: int
    memory_bytes: int
    file_size_bytes: int  # RLIMIT_FSIZE: no file (output, stdout, stderr, temp) grows past this
    open_files: int = 32
    processes: int = 1
    output_chars: int = 4000  # stdout/stderr tails kept
    tmpfs_bytes: int = 64 * MIB  # the run's private tmpfs: workdir + /tmp + /var/tmp + /dev/shm together
    tmpfs_inodes: int = 4096
    output_bytes: int | None = None  # output files read back up to this (default: file_size_bytes)

    @classmethod
    def from_settings(cls, *, wall_seconds: float | None = None) -> SandboxLimits:
        return cls(
            wall_seconds=wall_seconds or settings.VOICEBOT_SANDBOX_WALL_SECONDS,
            cpu_seconds=settings.VOICEBOT_SANDBOX_CPU_SECONDS,
            memory_bytes=settings.VOICEBOT_SANDBOX_MEMORY_MB * MIB,
            file_size_bytes=settings.VOICEBOT_SANDBOX_FILE_SIZE_MB * MIB,
            tmpfs_bytes=settings.VOICEBOT_SANDBOX_TMPFS_MB * MIB,
        )

    @property
    def output_cap(self) -> int:
        return self.output_bytes if self.output_bytes is not None else self.file_size_bytes


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
    truncated: list[str] = field(default_factory=list)  # outputs longer than the cap (cut to it)
    refused: str = ""  # why isolation could not be set up (the script did not run)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.refused

    @property
    def hit_file_size_limit(self) -> bool:
        return self.signal_name == "SIGXFSZ" or "File too large" in self.stderr

    def describe_failure(self) -> str:
        if self.refused:
            return f"The sandbox could not isolate the script, so it was not run ({self.refused})."
        if self.timed_out:
            return "Script was stopped after the wall-clock time limit."
        if self.signal_name:
            return f"Script was killed by {self.signal_name} (a resource limit). stderr: {self.stderr[-1000:]}"
        return f"Script failed (exit {self.exit_code}). stderr: {self.stderr[-1000:]}"


def truncation_note(cap_bytes: int) -> str:
    size = f"{cap_bytes // 1024} KiB" if cap_bytes >= 1024 else f"{cap_bytes} bytes"
    return f"output truncated at {size}"


def sandbox_root() -> Path:
    root = Path(settings.VOICEBOT_SANDBOX_DIR or Path(tempfile.gettempdir()) / "voicebot-sandbox")
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)  # runs never see it: their namespace has a private tmpfs over it
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


def _read_output(workdir: Path, name: str, cap: int) -> tuple[bytes | None, bool]:
    """Read an output the launcher copied back (at most cap + 1 bytes); (data cut to cap, was it cut)."""
    try:
        fd = os.open(workdir / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None, False
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None, False
        data = handle.read(cap + 1)
    return data[:cap], len(data) > cap


def _tail(path: Path, chars: int) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, os.fstat(handle.fileno()).st_size - chars * 4))
            data = handle.read()
    except OSError:
        return ""
    return data.decode("utf-8", errors="replace")[-chars:]


@contextlib.contextmanager
def _run_uid() -> Iterator[int | None]:
    """A uid no other concurrent run on this host has (root only; None otherwise), held by a file lock
    that the kernel releases if this process dies."""
    if os.geteuid() != 0:
        yield None
        return
    first, count = settings.VOICEBOT_SANDBOX_UID_FIRST, settings.VOICEBOT_SANDBOX_UID_COUNT
    locks = sandbox_root()
    start = random.randrange(count)
    for step in range(count):
        uid = first + (start + step) % count
        fd = os.open(locks / f"uid-{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            yield uid
        finally:
            os.close(fd)
        return
    raise SandboxBusy(f"all {count} sandbox uids are in use")


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_python(
    script: str,
    *,
    inputs: dict[str, bytes] | None = None,
    outputs: tuple[str, ...] = (),
    argv: tuple[str, ...] = (),
    limits: SandboxLimits | None = None,
) -> SandboxResult:
    """Copy `script` and `inputs` (file name → bytes, plain names only) into the run's private tmpfs,
    run the script there isolated and under the limits, and return its exit status, output tails and
    the `outputs` files. Blocks for up to `limits.wall_seconds` (plus start-up)."""
    limits = limits or SandboxLimits.from_settings()
    files = {**(inputs or {}), "script.py": script.encode("utf-8")}
    for name in [*files, *outputs]:
        if Path(name).name != name or name in ("", ".", ".."):
            raise ValueError(f"invalid sandbox file name {name!r}")
    root = sandbox_root()
    workdir = Path(tempfile.mkdtemp(prefix=f"run-{uuid.uuid4().hex[:8]}-", dir=root))
    logs = Path(tempfile.mkdtemp(prefix="logs-", dir=root))
    try:
        for name, data in files.items():
            (workdir / name).write_bytes(data)
        with _run_uid() as uid:
            config = {
                "python": interpreter(),
                "script": "script.py",
                "argv": list(argv),
                "cwd": str(workdir),
                "host_dir": str(workdir),
                "sandbox_root": str(root),
                "files": list(files),
                "outputs": list(outputs),
                "output_bytes": limits.output_cap,
                "tmpfs_bytes": limits.tmpfs_bytes,
                "tmpfs_inodes": limits.tmpfs_inodes,
                "uid": uid,
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
                    cwd="/",
                    env={},
                    close_fds=True,
                    start_new_session=True,
                )
                try:
                    process.wait(timeout=limits.wall_seconds)
                except subprocess.TimeoutExpired:
                    timed_out = True
                    _kill_group(process.pid)
                    process.wait()
                _kill_group(process.pid)  # nothing of this run outlives it (the script also dies with its parent)
            duration_ms = int((time.monotonic() - started) * 1000)
        stderr_text = _tail(stderr_path, 1_000_000)
        protections: list[str] = []
        refused = ""
        kept: list[str] = []
        seen_marker = False
        for line in stderr_text.splitlines():
            if line.startswith(_MARKER) and not seen_marker:
                seen_marker = True  # only the launcher's own first line counts, never the script's
                try:
                    report = json.loads(line[len(_MARKER) :])
                    protections = list(report.get("protections", []))
                    refused = str(report.get("refused", ""))
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
        if not seen_marker and not timed_out:
            refused = "the launcher failed before isolating the script"
        if timed_out or signal_name:  # the kill counter (wall_timeout, or the limit's signal)
            observe.sandbox_killed("wall_timeout" if timed_out else signal_name)
        read = {name: _read_output(workdir, name, limits.output_cap) for name in outputs}
        return SandboxResult(
            exit_code=code,
            stdout=_tail(stdout_path, limits.output_chars),
            stderr="\n".join(kept)[-limits.output_chars :],
            timed_out=timed_out,
            signal_name=signal_name,
            duration_ms=duration_ms,
            protections=protections,
            outputs={name: data for name, (data, _) in read.items()},
            truncated=[name for name, (_, cut) in read.items() if cut],
            refused=refused,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(logs, ignore_errors=True)
