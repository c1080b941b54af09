"""Fresh virtual environments, far from the source tree, where the smoke test runs."""

from __future__ import annotations

import os
import shutil
import sys
import venv
from pathlib import Path

from releasing.proc import run
from releasing.project import ROOT, ReleaseError

SMOKE_SCRIPT = ROOT / "tools" / "smoke_test.py"
# Variables that would let the venv's Python see anything but what was installed into it.
_LEAKY_ENV = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "VIRTUAL_ENV")


def create_venv(where: Path) -> Path:
    """Create an empty venv (no pip, no site-packages access) at `where`; return its python."""
    # Without pip: creating is instant, and pip installs into it from outside (`--python`).
    venv.EnvBuilder(with_pip=False, clear=True, symlinks=os.name != "nt").create(where)
    python = where / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if not python.exists():
        raise ReleaseError(f"venv at {where} has no interpreter at {python}")
    return python


def clean_env() -> dict[str, str]:
    """The environment of this process, less what could point a Python at the source tree."""
    return {k: v for k, v in os.environ.items() if k not in _LEAKY_ENV}


def pip_install(python: Path, *args: str) -> None:
    """`pip install ARGS` into the venv of `python`, using this environment's pip."""
    run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--quiet", *args],
        env=clean_env(),
    )


def run_smoke_test(python: Path, version: str, workdir: Path) -> None:
    """Run tools/smoke_test.py with `python`, from `workdir`, in isolated mode."""
    script = workdir / SMOKE_SCRIPT.name
    # A copy outside the repo: neither the cwd nor the script's folder lead to the sources.
    shutil.copyfile(SMOKE_SCRIPT, script)
    out = run([python, "-I", script, "--version", version], cwd=workdir, env=clean_env())
    print(out.rstrip())
