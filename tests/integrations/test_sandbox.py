"""The sandbox for model-written scripts: no secrets, no network, hidden project files, and killed at
its limits. (These are the OS-level guarantees docs/integrations.md describes.)"""

from __future__ import annotations

import os

import pytest

from integrations.sandbox import SandboxLimits, run_python

LIMITS = SandboxLimits(wall_seconds=5, cpu_seconds=1, memory_bytes=256 * 1024 * 1024, file_size_bytes=1024 * 1024)


def test_it_cannot_read_a_secret_from_the_environment(monkeypatch, settings):
    monkeypatch.setenv("VOICEBOT_SECRET_KEY", "super-secret-fernet-key")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-secret")
    script = """
import os
print(repr(os.environ.get("VOICEBOT_SECRET_KEY")), repr(os.environ.get("OPENAI_API_KEY")))
try:
    print(open(f"/proc/{os.getppid()}/environ", "rb").read())
except OSError as exc:
    print("parent environ:", type(exc).__name__)
"""
    result = run_python(script, limits=LIMITS)
    assert result.ok
    assert "None None" in result.stdout
    assert "super-secret" not in result.stdout and "sk-live" not in result.stdout


def test_it_runs_in_its_own_directory_and_returns_the_files_it_wrote():
    script = "import os, sys\nopen(sys.argv[2], 'w').write(open(sys.argv[1]).read().upper() + ' in ' + os.getcwd())"
    result = run_python(script, inputs={"in.txt": b"hello"}, outputs=("out.txt",), argv=("in.txt", "out.txt"))
    assert result.ok
    text = result.outputs["out.txt"].decode()
    assert text.startswith("HELLO in ") and "voicebot-sandbox" in text
    assert not os.path.exists(text.split(" in ", 1)[1])  # the temp dir is gone afterwards


def test_it_is_killed_at_the_cpu_limit():
    result = run_python("while True:\n    pass\n", limits=LIMITS)
    assert not result.ok and result.signal_name in ("SIGXCPU", "SIGKILL")
    assert not result.timed_out


def test_it_is_stopped_at_the_wall_clock_limit():
    limits = SandboxLimits(wall_seconds=1, cpu_seconds=5, memory_bytes=256 * 1024 * 1024, file_size_bytes=1 << 20)
    result = run_python("import time\ntime.sleep(30)\n", limits=limits)
    assert result.timed_out and not result.ok


def test_it_cannot_allocate_beyond_the_memory_limit():
    result = run_python("block = bytearray(600 * 1024 * 1024)\nprint('allocated')", limits=LIMITS)
    assert not result.ok and "MemoryError" in result.stderr and "allocated" not in result.stdout


def test_it_cannot_write_files_beyond_the_size_limit():
    result = run_python("open('big', 'wb').write(b'x' * (5 * 1024 * 1024))", limits=LIMITS)
    assert not result.ok and "File too large" in result.stderr


def test_it_cannot_start_processes():
    result = run_python("import subprocess\nsubprocess.run(['/bin/true'])", limits=LIMITS)
    assert not result.ok and ("BlockingIOError" in result.stderr or "Resource temporarily" in result.stderr)


def test_it_has_no_network_and_cannot_see_the_project_where_the_os_allows(mock_api, settings):
    port = mock_api.httpd.server_address[1]
    script = f"""
import socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2)
    print("NET OPEN")
except OSError as exc:
    print("net blocked:", exc)
import os
try:
    print("PROJECT", os.listdir({str(settings.BASE_DIR)!r}))
except OSError as exc:
    print("project hidden:", exc)
"""
    result = run_python(script, limits=LIMITS)
    assert result.ok
    if "no_network" not in result.protections:
        pytest.skip("this OS refused network namespaces (documented fallback)")
    assert "net blocked" in result.stdout and "NET OPEN" not in result.stdout
    assert "project hidden" in result.stdout


def test_it_never_follows_a_symlink_the_script_leaves_as_output():
    result = run_python(
        "import os, sys\nos.symlink('/etc/passwd', sys.argv[1])", outputs=("out.txt",), argv=("out.txt",)
    )
    assert result.ok
    assert result.outputs["out.txt"] is None
