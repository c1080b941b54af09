"""Running the pipeline's commands: echo them, capture their output, fail loudly."""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from releasing.project import ReleaseError

DEFAULT_TIMEOUT = 600.0
"""Seconds any one command may take (a build or an install on a slow CI machine)."""


def run(
    cmd: Sequence[str | Path],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    echo: bool = True,
) -> str:
    """Run `cmd`; return its stdout. Raise ReleaseError with its output if it fails."""
    args = [str(a) for a in cmd]
    if echo:
        print("$ " + shlex.join(args), flush=True)
    try:
        proc = subprocess.run(
            args,
            cwd=cwd,
            env=None if env is None else dict(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ReleaseError(f"`{shlex.join(args)}` took longer than {timeout:.0f} s") from exc
    if proc.returncode != 0:
        output = (proc.stdout + proc.stderr).strip()
        raise ReleaseError(f"`{shlex.join(args)}` failed (exit {proc.returncode}):\n{output}")
    return proc.stdout
