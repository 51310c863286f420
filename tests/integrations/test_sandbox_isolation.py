"""Runs of model-written scripts cannot reach each other or leave anything behind: each has its own
PID namespace (its own /proc), its own size-capped tmpfs behind its work dir, /tmp, /var/tmp and
/dev/shm, its own IPC namespace and its own uid; a sandbox that cannot set that up refuses to run the
script; outputs are cut at their cap. Real processes throughout (security findings 1, 2, 7)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from integrations.sandbox import SandboxLimits, run_python, sandbox_root

MIB = 1024 * 1024
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="these attacks are run where the server runs: as root")

LIMITS = SandboxLimits(wall_seconds=30, cpu_seconds=10, memory_bytes=256 * MIB, file_size_bytes=MIB)

# Each run tries, until told to stop, to read every other run's input and overwrite its result, through
# /proc/<pid>/cwd of every process it can see and through every path it can guess.
ATTACK = r"""
import glob, json, os, time
me = json.load(open("input.json"))
open("result.txt", "w").write("result of " + me["who"])
own = os.path.realpath(os.getcwd())
found, overwritten, seen_pids = set(), set(), set()
places = set()
deadline = time.monotonic() + 25
while not os.path.exists("stop") and time.monotonic() < deadline:
    candidates = []
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid():
            seen_pids.add(pid)
            candidates.append(f"/proc/{pid}/cwd")
    for pattern in (me["root"] + "/*", "/tmp/*/*", "/tmp/*", "/var/tmp/*", "/dev/shm/*"):
        candidates += glob.glob(pattern)
    for place in candidates:
        try:
            if os.path.realpath(place) == own:
                continue
        except OSError:
            pass
        places.add(place)
        try:
            text = open(place + "/input.json").read()
            if "secret" in text:
                found.add(text)
        except OSError:
            pass
        try:
            with open(place + "/result.txt", "r+") as handle:
                handle.write("overwritten by " + me["who"])
            overwritten.add(place)
        except OSError:
            pass
    time.sleep(0.02)
print(json.dumps({"found": sorted(found), "overwritten": sorted(overwritten), "pids": sorted(seen_pids)}))
"""


def _running_scripts(token: str) -> dict[str, int]:
    """Host view: which of this test's runs are alive right now (who -> pid), read through /proc."""
    running = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            data = json.loads((proc / "cwd" / "input.json").read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("token") == token:
            running[data["who"]] = int(proc.name)
    return running


def test_two_concurrent_runs_can_neither_read_nor_overwrite_each_other():
    token = uuid.uuid4().hex
    root = str(sandbox_root())

    def run(who: str):
        payload = {"who": who, "token": token, "secret": f"secret-of-{who}-{token}", "root": root}
        return run_python(
            ATTACK,
            inputs={"input.json": json.dumps(payload).encode()},
            outputs=("result.txt",),
            limits=LIMITS,
        )

    with ThreadPoolExecutor(2) as pool:
        futures = {who: pool.submit(run, who) for who in ("A", "B")}
        deadline = time.monotonic() + 20
        running: dict[str, int] = {}
        while len(running) < 2 and time.monotonic() < deadline and not any(f.done() for f in futures.values()):
            running = _running_scripts(token)
            time.sleep(0.05)
        both_ran_together = len(running) == 2
        time.sleep(0.3)  # both keep attacking for a while (several passes each) with the other alive
        for pid in _running_scripts(token).values():
            (Path(f"/proc/{pid}/cwd") / "stop").write_text("1")
        results = {who: future.result() for who, future in futures.items()}

    assert both_ran_together, "the two runs never ran at the same time"
    for who, other in (("A", "B"), ("B", "A")):
        result = results[who]
        assert result.ok, result.stderr
        report = json.loads(result.stdout.strip().splitlines()[-1])
        assert report["found"] == [], f"run {who} read the other run's input"
        assert report["overwritten"] == [], f"run {who} wrote into another run's directory"
        assert result.outputs["result.txt"] == f"result of {who}".encode()
        assert f"secret-of-{other}" not in result.stdout
        assert report["pids"] == [], "a run saw another process in its /proc"
        assert {"pid_namespace", "per_run_uid", "private_tmp"} <= set(result.protections)


FILL = r"""
import ctypes, os, sys
tag, key = sys.argv[1], int(sys.argv[2])
for folder in ("/tmp", "/var/tmp", "/dev/shm"):
    open(f"{folder}/leak-{tag}", "w").write("left behind")
written = 0
try:
    for index in range(100):
        for folder in ("/dev/shm", "/tmp"):
            with open(f"{folder}/fill-{tag}-{index}", "wb") as handle:
                handle.write(b"x" * (512 * 1024))
            written += 512 * 1024
except OSError as exc:
    print("stopped:", exc.strerror)
libc = ctypes.CDLL(None, use_errno=True)
print("sysv", libc.shmget(key, 1 << 20, 0o1000 | 0o666))
print("written", written)
"""


def _sysv_keys() -> set[int]:
    lines = Path("/proc/sysvipc/shm").read_text().splitlines()[1:]
    return {int(line.split()[0]) for line in lines if line.split()}


def test_shared_memory_and_temp_files_are_capped_and_gone_when_the_run_ends(settings):
    settings.VOICEBOT_SANDBOX_TMPFS_MB = 8
    settings.VOICEBOT_SANDBOX_FILE_SIZE_MB = 1
    tag = uuid.uuid4().hex
    key = random.randrange(1 << 20, 1 << 30)
    try:
        result = run_python(FILL, argv=(tag, str(key)), limits=SandboxLimits.from_settings())
        assert result.ok, result.stderr
        assert "stopped: No space left on device" in result.stdout  # the cap held, not a file limit
        written = int(result.stdout.split("written ")[1].split()[0])
        assert 0 < written <= 8 * MIB
        assert "sysv -1" not in result.stdout  # the segment was made ... (inside the run's own IPC namespace)
        leftovers = [
            path
            for folder in ("/tmp", "/var/tmp", "/dev/shm")
            for path in Path(folder).glob(f"*{tag}*")  # ... and nothing of it is on the host afterwards
        ]
        assert leftovers == []
        assert key not in _sysv_keys()
    finally:
        for folder in ("/tmp", "/var/tmp", "/dev/shm"):
            for path in Path(folder).glob(f"*{tag}*"):
                path.unlink(missing_ok=True)
        if key in _sysv_keys():
            subprocess.run(["ipcrm", "-M", str(key)], check=False)


# The real sandbox, run in a child process where the OS denies namespaces, by two real mechanisms:
# root without CAP_SYS_ADMIN (what a default Docker container gives), and a seccomp filter that
# denies unshare(2) (what a hardened container profile does).
_CHILD = r"""
import json, os, sys
import django
django.setup()
{prelude}
from integrations.sandbox import run_python
result = run_python("print('THE SCRIPT RAN')")
print(json.dumps({{"ok": result.ok, "stdout": result.stdout, "refused": getattr(result, "refused", ""),
                  "protections": result.protections, "failure": result.describe_failure()}}))
"""
_NO_CAP_SYS_ADMIN = (["setpriv", "--bounding-set", "-sys_admin", "--inh-caps", "-sys_admin"], "")
_SECCOMP_DENIES_UNSHARE = (
    [],
    "sys.path.insert(0, 'integrations')\n"
    "from sandbox_launcher import install_seccomp\n"
    "assert install_seccomp(['unshare'])",
)


@pytest.mark.parametrize(
    ("wrapper", "prelude"), [_NO_CAP_SYS_ADMIN, _SECCOMP_DENIES_UNSHARE], ids=["no-cap-sys-admin", "seccomp"]
)
def test_a_sandbox_that_cannot_isolate_refuses_to_run_the_script(wrapper, prelude):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONPATH": str(django_settings.BASE_DIR),
        "VOICEBOT_SANDBOX_DIR": str(sandbox_root()),
    }
    child = subprocess.run(
        [*wrapper, sys.executable, "-c", _CHILD.format(prelude=prelude)],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == 0, child.stderr
    report = json.loads(child.stdout.strip().splitlines()[-1])
    assert "THE SCRIPT RAN" not in report["stdout"]
    assert report["ok"] is False
    assert "unshare" in report["refused"] and "Operation not permitted" in report["refused"]
    assert report["failure"].startswith("The sandbox could not isolate the script, so it was not run")


def test_output_files_are_cut_at_their_cap_and_say_so():
    limits = SandboxLimits(
        wall_seconds=30, cpu_seconds=10, memory_bytes=256 * MIB, file_size_bytes=MIB, output_bytes=64 * 1024
    )
    script = "import sys\nopen(sys.argv[1], 'wb').write(b'y' * (512 * 1024))"
    result = run_python(script, outputs=("out.txt",), argv=("out.txt",), limits=limits)
    assert result.ok
    assert result.truncated == ["out.txt"]
    assert result.outputs["out.txt"] == b"y" * (64 * 1024)


def test_a_file_past_the_size_limit_is_stopped_by_the_kernel():
    script = "import sys\nopen(sys.argv[1], 'wb').write(b'z' * (5 * MIB))".replace("MIB", str(MIB))
    result = run_python(script, outputs=("out.txt",), argv=("out.txt",), limits=LIMITS)
    assert not result.ok and result.hit_file_size_limit
    assert len(result.outputs["out.txt"]) == MIB  # what reached the disk stopped at RLIMIT_FSIZE
