"""Memory and CPU of a process from /proc (Linux), and of this process from `resource`."""

from __future__ import annotations

import os
from pathlib import Path

MIB = 1024 * 1024


def rss_bytes(pid: int | None = None) -> int:
    """Current resident set size of `pid` (default: this process) in bytes."""
    path = Path(f"/proc/{pid or os.getpid()}/status")
    for line in path.read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS in {path}")


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (VmHWM), in bytes.

    Not `ru_maxrss`: after fork + exec it still counts the parent's pages from before exec.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds `pid` has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks / os.sysconf("SC_CLK_TCK")
