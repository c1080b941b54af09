"""Find a working CPython X.Y for the noxfile's version matrix, or say there is none.

nox finds `pythonX.Y` on PATH, but a version manager's shim there may exist and still
fail ("pyenv: python3.12: command not found" when 3.12 is installed but not active),
and an interpreter installed under pyenv's `versions/` directory but not active is
not on PATH at all. So a candidate counts only if it runs and reports the version
asked for; candidates are PATH first, then `$PYENV_ROOT/versions/X.Y.*` (newest
patch first). Standard library only: the noxfile imports this before any venv exists.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

PROBE_TIMEOUT = 15.0
"""Seconds a candidate may take to print its version before it counts as broken."""

_VERSION = re.compile(r"^3\.\d{1,2}$")
_PROBE = "import sys; print(sys.implementation.name, '%d.%d' % sys.version_info[:2])"


def _check_version(version: str) -> None:
    if not _VERSION.match(version):
        raise ValueError(f"version must look like '3.12', got {version!r}")


def _patch_key(path: Path, version: str) -> tuple[int, ...]:
    """Sort key for pyenv's `3.12.1`-style directory names; others sort last."""
    rest = path.name[len(version) :]
    match = re.fullmatch(r"\.(\d+)", rest)
    return (int(match.group(1)),) if match else (-1,)


def candidates(version: str, env: Mapping[str, str] | None = None) -> Iterator[str]:
    """Yield paths that may be CPython `version`: PATH's `pythonX.Y`, then pyenv's."""
    _check_version(version)
    env = os.environ if env is None else env
    name = f"python{version}"
    on_path = shutil.which(name, path=env.get("PATH", ""))
    if on_path:
        yield on_path
    root = env.get("PYENV_ROOT") or str(Path(env.get("HOME", "~")).expanduser() / ".pyenv")
    versions = Path(root) / "versions"
    if not versions.is_dir():
        return
    # Only plain CPython releases (3.12.1), not e.g. 3.12-dev or a virtualenv of pyenv's.
    dirs = [d for d in versions.glob(f"{version}.*") if _patch_key(d, version) != (-1,)]
    for found in sorted(dirs, key=lambda d: _patch_key(d, version), reverse=True):
        exe = found / "bin" / name
        if exe.is_file() and os.access(exe, os.X_OK):
            yield str(exe)


def runs_as(executable: str, version: str, timeout: float = PROBE_TIMEOUT) -> bool:
    """True when `executable` starts and reports itself as CPython `version`."""
    _check_version(version)
    try:
        done = subprocess.run(
            [executable, "-I", "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and done.stdout.split() == ["cpython", version]


def find_python(
    version: str, env: Mapping[str, str] | None = None, timeout: float = PROBE_TIMEOUT
) -> str | None:
    """The absolute path of a CPython `version` ("3.12") that really runs, or None."""
    _check_version(version)
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version and (
        sys.implementation.name == "cpython"
    ):
        return sys.executable
    for candidate in candidates(version, env):
        if runs_as(candidate, version, timeout):
            return os.path.abspath(candidate)
    return None
