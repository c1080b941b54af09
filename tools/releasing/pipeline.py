"""The build pipeline: build, check, install into a fresh venv, smoke-test."""

from __future__ import annotations

import tempfile
from pathlib import Path

from releasing import artifacts, smoke
from releasing.artifacts import Artifacts


def build_and_check(root: Path, outdir: Path) -> Artifacts:
    """Build into `outdir`, run every check, smoke-test the wheel; ReleaseError on any failure."""
    built = artifacts.build(root, outdir)
    artifacts.twine_check(built)
    artifacts.check_wheel_contents(root, built.wheel)
    artifacts.check_contents(built)
    with tempfile.TemporaryDirectory(prefix="together-queue-smoke-") as tmp:
        work = Path(tmp)
        python = smoke.create_venv(work / "venv")
        smoke.pip_install(python, f"{built.wheel}[emulator]")
        smoke.run_smoke_test(python, built.version, work)
    print(f"build ok: {built.sdist.name}, {built.wheel.name}")
    return built
