"""Sandbox launcher: the tiny program that lowers its own privileges and then becomes the script.

Run by `integrations.sandbox` as `python -I -S sandbox_launcher.py '<json config>'` (never imported by
Django code). Standard library only. Steps, each best effort, each reported on stderr as one
`__SANDBOX__ {...}` line before exec (the parent strips it):

1. new network namespace (only a downed loopback inside: no network at all) and mount namespace;
   as root directly, otherwise through an unprivileged user namespace when the kernel allows it;
2. in the mount namespace, hide the configured paths (project dir, data dir, database) under empty
   read-only tmpfs / `/dev/null` binds;
3. resource limits: CPU seconds, address space, file size, open files, core dumps off;
4. when root: drop to uid/gid 65534 (nobody) with no supplementary groups, then limit processes;
5. `execve` the interpreter in isolated mode with an EMPTY environment in the work directory.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
NOBODY = 65534


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _unshare(libc: ctypes.CDLL, flags: int) -> bool:
    return libc.unshare(flags) == 0


def _mount(libc: ctypes.CDLL, source: str, target: str, fstype: str | None, flags: int, data: str | None) -> bool:
    return (
        libc.mount(
            source.encode(),
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        )
        == 0
    )


def _write(path: str, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)


def isolate(config: dict) -> list[str]:
    """Apply namespaces and mounts; return the names of the protections that took effect."""
    applied: list[str] = []
    libc = _libc()
    is_root = os.geteuid() == 0
    namespaces = False
    if is_root:
        namespaces = _unshare(libc, CLONE_NEWNET | CLONE_NEWNS)
    else:
        uid, gid = os.geteuid(), os.getegid()
        if _unshare(libc, CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS):
            try:
                _write("/proc/self/setgroups", "deny")
                _write("/proc/self/uid_map", f"{uid} {uid} 1")
                _write("/proc/self/gid_map", f"{gid} {gid} 1")
            except OSError:
                pass
            namespaces = True
    if namespaces:
        applied.append("no_network")
        if _mount(libc, "none", "/", None, MS_REC | MS_PRIVATE, None):
            hidden = 0
            for path in config.get("hide_paths", []):
                if os.path.isdir(path):
                    ok = _mount(
                        libc, "tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=000"
                    )
                elif os.path.isfile(path):
                    ok = _mount(libc, "/dev/null", path, None, MS_BIND, None)
                else:
                    continue
                hidden += int(ok)
            if hidden:
                applied.append("hidden_paths")
    return applied


def limit(config: dict) -> list[str]:
    applied: list[str] = []
    for name, value in (
        ("RLIMIT_CPU", config["cpu_seconds"]),
        ("RLIMIT_AS", config["memory_bytes"]),
        ("RLIMIT_FSIZE", config["file_size_bytes"]),
        ("RLIMIT_NOFILE", config["open_files"]),
        ("RLIMIT_CORE", 0),
    ):
        try:
            hard = value + 1 if name == "RLIMIT_CPU" else value  # soft CPU limit sends SIGXCPU first
            resource.setrlimit(getattr(resource, name), (value, hard))
            applied.append(name.lower().removeprefix("rlimit_"))
        except (ValueError, OSError):
            pass
    return applied


def drop_privileges(config: dict) -> list[str]:
    applied: list[str] = []
    if os.geteuid() == 0:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        applied.append("unprivileged_user")
    # After the uid change: the process count is per user, and fork/threads beyond it fail.
    try:
        resource.setrlimit(resource.RLIMIT_NPROC, (config["processes"], config["processes"]))
        applied.append("nproc")
    except (ValueError, OSError):
        pass
    return applied


def main() -> None:
    config = json.loads(sys.argv[1])
    applied = isolate(config)
    os.chdir(config["cwd"])
    applied += limit(config)
    applied += drop_privileges(config)
    sys.stderr.write("__SANDBOX__ " + json.dumps({"protections": applied}) + "\n")
    sys.stderr.flush()
    python = config["python"]
    os.execve(python, [python, "-I", "-S", "-B", config["script"], *config["argv"]], {})


if __name__ == "__main__":
    main()
