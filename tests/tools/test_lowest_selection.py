"""`nox -s lowest` claims the unit and integration tests: it runs every one of them.

Read from noxfile.py without running nox: the folders `lowest` leaves out are
named, each with its reason; every other test module under tests/ runs.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
NOXFILE = ROOT / "noxfile.py"


def _assigned(name: str) -> Any:
    """The literal value assigned to `name` at the top of noxfile.py."""
    for node in ast.parse(NOXFILE.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise AssertionError(f"noxfile.py assigns no {name}")


def _lowest_pytest_args() -> list[str]:
    """What `lowest` passes to pytest, with UNIT_AND_INTEGRATION spelled out."""
    tree = ast.parse(NOXFILE.read_text(encoding="utf-8"))
    lowest = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "lowest")
    for call in ast.walk(lowest):
        if (
            isinstance(call, ast.Call)
            and call.args
            and isinstance(call.args[0], ast.Constant)
            and call.args[0].value == "pytest"
        ):
            args = [ast.unparse(a) for a in call.args[1:]]
            assert args[0] == "*UNIT_AND_INTEGRATION", args
            excluded = _assigned("NOT_IN_LOWEST")
            return ["tests", *(f"--ignore={folder}" for folder in excluded)]
    raise AssertionError("the lowest session runs no pytest")


def test_every_test_module_outside_the_folders_it_names_runs_in_lowest() -> None:
    args = _lowest_pytest_args()
    roots = [ROOT / a for a in args if not a.startswith("--")]
    ignored = [ROOT / a.removeprefix("--ignore=") for a in args if a.startswith("--ignore=")]
    modules = sorted((ROOT / "tests").rglob("test_*.py"))

    not_run = [
        m.relative_to(ROOT).as_posix()
        for m in modules
        if not any(m.is_relative_to(r) for r in roots) or any(m.is_relative_to(i) for i in ignored)
    ]
    left_out = _assigned("NOT_IN_LOWEST")

    assert {m.split("/")[1] for m in not_run} <= {f.split("/")[1] for f in left_out}
    assert all(isinstance(reason, str) and reason.strip() for reason in left_out.values())
    assert all((ROOT / folder).is_dir() for folder in left_out), "a stale entry"
    # The package's own tests all run: unit, client, CLI, integration, the guard.
    for package_test in ("tests/unit", "tests/client", "tests/cli", "tests/integration"):
        assert package_test not in left_out
    assert "tests/test_completeness.py" not in not_run
