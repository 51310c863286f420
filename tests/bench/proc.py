"""A process's CPU time and memory, read from /proc (the benchmarks' stopwatch and scale)."""

from __future__ import annotations

import os
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_ms(pid: int, tid: int | None = None) -> float:
    """utime + stime of a process (all its threads), or of one of its threads, in ms."""
    path = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    fields = Path(path).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / CLK_TCK


def rss_mib(pid: int | str = "self", field: str = "VmRSS") -> float:
    """Resident memory (VmRSS), or its peak (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for process {pid}")
