"""Smoke test of an installed together-queue, run by the release pipeline inside a fresh venv.

Usage: python -I smoke_test.py --version VERSION

Checks, in order: both packages import from this venv (never from a source tree);
both ship `py.typed`; the installed version is VERSION everywhere it is shown
(`__version__`, the distribution metadata, `together-queue --version`); one
submit/wait round trip against the emulator from the `[emulator]` extra.
Only the standard library and the installed packages are used.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import subprocess
import sys
import sysconfig
from pathlib import Path
from types import ModuleType

PACKAGES = ("together_queue", "together_queue_api")
DIST_NAME = "together-queue"
ROUND_TRIP_TIMEOUT = 30.0
CLI_TIMEOUT = 60.0


class SmokeFailure(Exception):
    """A smoke check failed; the message names it."""


def check(condition: bool, message: str) -> None:
    """Raise SmokeFailure(message) unless `condition` holds."""
    if not condition:
        raise SmokeFailure(message)


def check_imports() -> dict[str, ModuleType]:
    """Import both packages; each must live in this venv and carry py.typed."""
    prefix = Path(sys.prefix).resolve()
    check(sys.prefix != sys.base_prefix, f"not running in a venv: {sys.executable}")
    modules = {}
    for name in PACKAGES:
        module = importlib.import_module(name)
        location = Path(module.__file__ or "").resolve()
        check(location.is_relative_to(prefix), f"{name} imported from {location}, not {prefix}")
        check((location.parent / "py.typed").is_file(), f"{name} has no py.typed beside {location}")
        modules[name] = module
        print(f"ok: {name} from {location.parent}")
    return modules


def check_version(together_queue: ModuleType, expected: str) -> None:
    """`__version__`, the metadata and `together-queue --version` all say `expected`."""
    shown = {
        "together_queue.__version__": str(together_queue.__version__),
        "distribution metadata": importlib.metadata.version(DIST_NAME),
    }
    script = Path(sysconfig.get_path("scripts")) / (
        "together-queue.exe" if sys.platform == "win32" else "together-queue"
    )
    check(script.is_file(), f"the together-queue script is not installed at {script}")
    proc = subprocess.run(
        [str(script), "--version"],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )
    check(proc.returncode == 0, f"together-queue --version exited {proc.returncode}: {proc.stderr}")
    for where, value in shown.items():
        check(value == expected, f"{where} says {value!r}, expected {expected!r}")
    printed = proc.stdout.strip()
    check(expected in printed.split(), f"`together-queue --version` printed {printed!r}")
    print(f"ok: version {expected} ({proc.stdout.strip()})")


def check_round_trip() -> None:
    """Submit one job to an in-process emulator and wait for its echoed outputs."""
    from together_queue import QueueClient
    from together_queue.emulator import start_emulator

    payload = {"x": 1}
    with (
        start_emulator(models={"echo": "echo"}) as emulator,
        QueueClient(base_url=emulator.url) as client,
    ):
        outputs = client.run("echo", payload, timeout=ROUND_TRIP_TIMEOUT)
    check(outputs == payload, f"echo returned {outputs!r}, expected {payload!r}")
    print(f"ok: submit/wait round trip against {emulator.url}: {outputs}")


def main(argv: list[str] | None = None) -> int:
    """Run every check; print what passed; exit 1 on the first failure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", required=True, help="the version that must be installed")
    args = parser.parse_args(argv)
    try:
        modules = check_imports()
        check_version(modules["together_queue"], args.version)
        check_round_trip()
    except SmokeFailure as exc:
        print(f"smoke test FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"smoke test passed: {DIST_NAME} {args.version} in {sys.prefix}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
