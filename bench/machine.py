"""The machine, interpreter and package versions a benchmark ran with (Linux /proc)."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path

PACKAGES = (
    "together-queue",
    "httpx",
    "httpcore",
    "together",
    "starlette",
    "uvicorn",
    "attrs",
    "pyinstrument",
)


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (or the platform's processor string)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def total_memory_gib() -> float:
    """Physical memory in GiB from /proc/meminfo (0 when unknown)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def package_version(name: str) -> str:
    """The installed version of distribution `name`, or `not installed`."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def git_commit(root: Path) -> str:
    """The checked-out commit of `root` (read-only), or `unknown`."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def load_average() -> str:
    """The system's load averages, or `n/a` where the OS has none."""
    try:
        return ", ".join(f"{load:.2f}" for load in os.getloadavg())
    except OSError:
        return "n/a"


def describe(root: Path) -> list[tuple[str, str]]:
    """(label, value) pairs: CPU, cores, RAM, OS, Python, commit, package versions."""
    rows = [
        ("CPU", cpu_model()),
        ("Cores (logical)", str(os.cpu_count())),
        ("RAM", f"{total_memory_gib():.1f} GiB"),
        ("Load average at the start (1, 5, 15 min)", load_average()),
        ("OS", platform.platform()),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("Commit", git_commit(root)),
    ]
    rows += [(name, package_version(name)) for name in PACKAGES]
    return rows
