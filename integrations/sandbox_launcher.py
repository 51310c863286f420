"""Sandbox launcher: the tiny program that isolates one run and then becomes the script.

Run by `integrations.sandbox` as `python -I -S sandbox_launcher.py '<json config>'` (never imported by
Django code, except that tests reuse `install_seccomp`). Standard library only.

Every step is REQUIRED: if one fails the script is not run, and the launcher prints one
`__SANDBOX__ {"refused": "..."}` line on stderr and exits 125. On success the child prints
`__SANDBOX__ {"protections": [...]}` just before `execve` (the parent strips the line).

The launcher (process P) does, as root (or, not root, inside a new user namespace):

1. `unshare` new mount, network, PID, IPC and UTS namespaces (no network at all: only a downed
   loopback; SysV shared memory and message queues die with the run);
2. makes every mount private, then mounts ONE size-capped tmpfs (the run's scratch) over the sandbox
   root, so no other run's directory can be named, and binds its `tmp`, `var-tmp` and `shm` folders
   over `/tmp`, `/var/tmp` and `/dev/shm` (nosuid, nodev, noexec): everything the run writes anywhere
   shares one cap and is gone when the run ends;
3. hides the configured paths (project dir, data dir, database) under empty read-only tmpfs or
   `/dev/null` binds;
4. creates the run's working directory on the scratch (same path as the host one, mode 0700, owned by
   the run's uid) and copies the inputs into it;
5. forks: the child C is pid 1 of the new PID namespace. C mounts a fresh `/proc` (only itself is
   visible), sets rlimits (CPU, address space, file size, open files, no core), drops to the run's own
   uid/gid (a distinct uid per concurrent run, chosen by the server) with no groups, limits processes,
   asks for SIGKILL if P dies, installs a seccomp filter, and `execve`s the interpreter in isolated mode
   with an EMPTY environment;
6. P waits for C, copies the declared output files back to the host directory (regular files only,
   never following links, at most `output_bytes + 1` bytes so the server can tell they were cut), and
   exits with C's status (or dies by C's signal).
"""

from __future__ import annotations

import ctypes
import json
import os
import platform
import resource
import signal
import stat
import struct
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_SECCOMP = 22
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_MODE_FILTER = 2
REFUSED_EXIT = 125
MARKER = "__SANDBOX__ "
SAFE = MS_NOSUID | MS_NODEV | MS_NOEXEC

# Syscalls the script never needs and that widen the kernel surface it can reach (new namespaces,
# mounts, tracing, BPF, keyrings, io_uring, userfaultfd, module loading). Denied with EPERM; clone3
# answers ENOSYS so libc falls back to clone (which RLIMIT_NPROC already stops).
SECCOMP_DENIED = (
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "open_tree", "move_mount", "fsopen",
    "fsconfig", "fsmount", "fspick", "mount_setattr", "ptrace", "process_vm_readv", "process_vm_writev",
    "bpf", "perf_event_open", "keyctl", "add_key", "request_key", "userfaultfd", "io_uring_setup",
    "io_uring_enter", "io_uring_register", "name_to_handle_at", "open_by_handle_at", "kexec_load",
    "kexec_file_load", "init_module", "finit_module", "delete_module",
)  # fmt: skip
_SYSCALLS = {
    # AUDIT_ARCH value, {name: number}
    "x86_64": (
        0xC000003E,
        {
            "ptrace": 101,
            "chroot": 161,
            "pivot_root": 155,
            "mount": 165,
            "umount2": 166,
            "init_module": 175,
            "delete_module": 176,
            "kexec_load": 246,
            "add_key": 248,
            "request_key": 249,
            "keyctl": 250,
            "unshare": 272,
            "perf_event_open": 298,
            "name_to_handle_at": 303,
            "open_by_handle_at": 304,
            "setns": 308,
            "process_vm_readv": 310,
            "process_vm_writev": 311,
            "finit_module": 313,
            "kexec_file_load": 320,
            "bpf": 321,
            "userfaultfd": 323,
            "io_uring_setup": 425,
            "io_uring_enter": 426,
            "io_uring_register": 427,
            "open_tree": 428,
            "move_mount": 429,
            "fsopen": 430,
            "fsconfig": 431,
            "fsmount": 432,
            "fspick": 433,
            "clone3": 435,
            "mount_setattr": 442,
        },
    ),  # fmt: skip
    "aarch64": (
        0xC00000B7,
        {
            "umount2": 39,
            "mount": 40,
            "pivot_root": 41,
            "chroot": 51,
            "unshare": 97,
            "kexec_load": 104,
            "init_module": 105,
            "delete_module": 106,
            "ptrace": 117,
            "add_key": 217,
            "request_key": 218,
            "keyctl": 219,
            "perf_event_open": 241,
            "name_to_handle_at": 264,
            "open_by_handle_at": 265,
            "setns": 268,
            "process_vm_readv": 270,
            "process_vm_writev": 271,
            "finit_module": 273,
            "bpf": 280,
            "userfaultfd": 282,
            "kexec_file_load": 294,
            "io_uring_setup": 425,
            "io_uring_enter": 426,
            "io_uring_register": 427,
            "open_tree": 428,
            "move_mount": 429,
            "fsopen": 430,
            "fsconfig": 431,
            "fsmount": 432,
            "fspick": 433,
            "clone3": 435,
            "mount_setattr": 442,
        },
    ),  # fmt: skip
}


class Refused(Exception):
    """An isolation step failed: the script must not run."""


_LIBC = ctypes.CDLL(None, use_errno=True)
_LIBC.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise Refused(f"{what}: {os.strerror(ctypes.get_errno())}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> bool:
    return (
        _LIBC.mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        )
        == 0
    )


def _prctl(option: int, arg: int = 0) -> bool:
    return _LIBC.prctl(option, arg, 0, 0, 0) == 0


def _write(path: str, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)


def install_seccomp(denied: tuple[str, ...] | list[str] = SECCOMP_DENIED) -> bool:
    """Deny `denied` syscalls (EPERM; clone3: ENOSYS) for this process and its children. Returns False
    on an architecture this table does not know. Other ABIs on the same CPU (i386, x32) are killed."""
    known = _SYSCALLS.get(platform.machine())
    if known is None:
        return False
    arch, numbers = known
    ld_w_abs, jeq_k, jge_k, ret_k = 0x20, 0x15, 0x35, 0x06
    allow, kill, errno_ret = 0x7FFF0000, 0x80000000, 0x00050000
    entries = [(name, numbers[name]) for name in (*denied, "clone3") if name in numbers]
    program = [(ld_w_abs, 0, 0, 4), (jeq_k, 1, 0, arch), (ret_k, 0, 0, kill), (ld_w_abs, 0, 0, 0)]
    if arch == 0xC000003E:
        program += [(jge_k, 0, 1, 0x40000000), (ret_k, 0, 0, kill)]  # x32 syscalls
    for name, number in entries:
        code = 38 if name == "clone3" else 1  # ENOSYS / EPERM
        program += [(jeq_k, 0, 1, number), (ret_k, 0, 0, errno_ret | code)]
    program.append((ret_k, 0, 0, allow))
    raw = b"".join(struct.pack("HBBI", *insn) for insn in program)
    buffer = ctypes.create_string_buffer(raw)
    fprog = struct.pack("HxxxxxxP", len(program), ctypes.addressof(buffer))
    fprog_buffer = ctypes.create_string_buffer(fprog)
    _check(_prctl(PR_SET_NO_NEW_PRIVS, 1), "no_new_privs")
    _check(_LIBC.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog_buffer), 0, 0) == 0, "seccomp")
    return True


def enter_namespaces(config: dict) -> list[str]:
    """Step 1: new mount, network, PID, IPC and UTS namespaces (the PID one applies to children)."""
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    if os.geteuid() == 0:
        _check(_LIBC.unshare(flags) == 0, "unshare(mount, net, pid, ipc, uts namespaces)")
    else:
        uid, gid = os.geteuid(), os.getegid()
        _check(_LIBC.unshare(CLONE_NEWUSER | flags) == 0, "unshare(user, mount, net, pid, ipc, uts namespaces)")
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{uid} {uid} 1")
        _write("/proc/self/gid_map", f"{gid} {gid} 1")
    _LIBC.sethostname(b"sandbox", 7)
    return ["no_network", "pid_namespace", "ipc_namespace"]


def build_mounts(config: dict) -> list[str]:
    """Steps 2-4: private scratch tmpfs over the sandbox root and the temp dirs, hidden paths, workdir."""
    _check(_mount("none", "/", None, MS_REC | MS_PRIVATE), "make mounts private")
    root = config["sandbox_root"]
    scratch = f"size={config['tmpfs_bytes']},nr_inodes={config['tmpfs_inodes']},mode=0755"
    _check(_mount("tmpfs", root, "tmpfs", SAFE, scratch), f"mount the run's tmpfs on {root}")
    sources = {}
    for name in ("tmp", "var-tmp", "shm"):
        path = os.path.join(root, name)
        os.mkdir(path)
        os.chmod(path, 0o1777)
        sources[name] = os.open(path, os.O_PATH | os.O_DIRECTORY)
    for name, target in (("tmp", "/tmp"), ("var-tmp", "/var/tmp"), ("shm", "/dev/shm")):
        if not os.path.isdir(target) or os.path.islink(target):
            continue
        _check(_mount(f"/proc/self/fd/{sources[name]}", target, None, MS_BIND), f"bind a private {target}")
        _check(_mount(None, target, None, MS_BIND | MS_REMOUNT | SAFE), f"remount {target} nosuid,nodev,noexec")
    for fd in sources.values():
        os.close(fd)
    for path in config.get("hide_paths", []):
        if os.path.isdir(path) and not os.path.islink(path):
            ok = _mount("tmpfs", path, "tmpfs", MS_RDONLY | SAFE, "size=4k,mode=000")
        elif os.path.isfile(path) and not os.path.islink(path):
            ok = _mount("/dev/null", path, None, MS_BIND)
        else:
            continue  # not there (or already under a private tmpfs): nothing to hide
        _check(ok, f"hide {path}")
    return ["private_tmp", "hidden_paths"]


def make_workdir(config: dict, host_dir: int) -> int:
    """Step 4: the run's working directory on the scratch tmpfs, with the inputs copied in."""
    cwd, uid = config["cwd"], config.get("uid")
    try:
        os.makedirs(cwd, mode=0o700)
    except OSError as exc:
        raise Refused(f"create the work directory {cwd}: {exc.strerror}") from exc
    if uid is not None:
        os.chown(cwd, uid, uid)
    os.chmod(cwd, 0o700)
    work = os.open(cwd, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    for name in config["files"]:
        source = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=host_dir)
        target = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=work)
        try:
            while chunk := os.read(source, 1 << 20):
                os.write(target, chunk)
            if uid is not None:
                os.fchown(target, uid, uid)
        except OSError as exc:
            raise Refused(f"copy {name} into the run's tmpfs: {exc.strerror}") from exc
        finally:
            os.close(source)
            os.close(target)
    return work


def limit(config: dict) -> list[str]:
    for name, value in (
        ("RLIMIT_CPU", config["cpu_seconds"]),
        ("RLIMIT_AS", config["memory_bytes"]),
        ("RLIMIT_FSIZE", config["file_size_bytes"]),
        ("RLIMIT_NOFILE", config["open_files"]),
        ("RLIMIT_CORE", 0),
    ):
        hard = value + 1 if name == "RLIMIT_CPU" else value  # soft CPU limit sends SIGXCPU first
        try:
            resource.setrlimit(getattr(resource, name), (value, hard))
        except (ValueError, OSError) as exc:
            raise Refused(f"set {name}: {exc}") from exc
    return ["cpu", "as", "fsize", "nofile", "core"]


def drop_privileges(config: dict) -> list[str]:
    applied = []
    uid = config.get("uid")
    if os.geteuid() == 0:
        if uid is None:
            raise Refused("no run uid was given to drop root to")
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        if os.getuid() != uid or os.geteuid() != uid:
            raise Refused("could not drop root")
        applied += ["unprivileged_user", "per_run_uid"]
    # After the uid change: the process count is per user, and fork/threads beyond it fail.
    resource.setrlimit(resource.RLIMIT_NPROC, (config["processes"], config["processes"]))
    applied.append("nproc")
    return applied


def run_child(config: dict) -> None:
    """In the new PID namespace (pid 1): /proc, limits, uid, seccomp, then become the script."""
    try:
        _check(_mount("proc", "/proc", "proc", SAFE), "mount /proc for the run's PID namespace")
        os.chdir(config["cwd"])
        applied = limit(config)
        applied += drop_privileges(config)
        _check(_prctl(PR_SET_PDEATHSIG, signal.SIGKILL), "parent-death signal")
        if install_seccomp():
            applied.append("seccomp")
        applied = ["no_network", "pid_namespace", "ipc_namespace", "private_tmp", "hidden_paths", *applied]
        sys.stderr.write(MARKER + json.dumps({"protections": applied}) + "\n")
        sys.stderr.flush()
        python = config["python"]
        os.execve(python, [python, "-I", "-S", "-B", config["script"], *config["argv"]], {})
    except (Refused, OSError) as exc:
        _refuse(str(exc))


def copy_outputs(config: dict, work: int, host_dir: int) -> None:
    """Step 6: declared outputs back to the host directory, capped, never through a link."""
    cap = config["output_bytes"] + 1
    for name in config["outputs"]:
        try:
            source = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=work)
        except OSError:
            continue
        try:
            if not stat.S_ISREG(os.fstat(source).st_mode):
                continue
            data = b""
            while len(data) < cap and (chunk := os.read(source, min(1 << 20, cap - len(data)))):
                data += chunk
        finally:
            os.close(source)
        target = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=host_dir)
        try:
            os.write(target, data)
        finally:
            os.close(target)


def _refuse(reason: str) -> None:
    sys.stderr.write(MARKER + json.dumps({"refused": reason}) + "\n")
    sys.stderr.flush()
    os._exit(REFUSED_EXIT)


def _exit_like(status: int) -> None:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        _prctl(PR_SET_DUMPABLE, 0)  # dying by SIGXCPU/SIGXFSZ must not dump this root process's core
        try:
            signal.signal(number, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
        os.kill(os.getpid(), number)
        os._exit(128 + number)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


def main() -> None:
    config = json.loads(sys.argv[1])
    os.umask(0o022)  # the server's umask (077) would make the path to the run's cwd untraversable
    try:
        host_dir = os.open(config["host_dir"], os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        enter_namespaces(config)
        build_mounts(config)
        work = make_workdir(config, host_dir)
    except (Refused, OSError) as exc:
        _refuse(str(exc))
        return
    child = os.fork()
    if child == 0:
        os.close(host_dir)
        run_child(config)
        os._exit(REFUSED_EXIT)  # not reached: run_child execs or refuses
    _, status = os.waitpid(child, 0)
    if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == REFUSED_EXIT):
        try:
            copy_outputs(config, work, host_dir)
        except OSError:
            pass  # the server reports the output as missing
    _exit_like(status)


if __name__ == "__main__":
    main()
