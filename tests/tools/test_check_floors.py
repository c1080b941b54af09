"""tools/check_floors.py: `nox -s lowest` passes only on the exact floors."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

from check_floors import floor_of, main, off_floor  # noqa: E402

INSTALLED = {"httpx": "0.27.0", "attrs": "23.1.0", "uvicorn": "0.30.1"}


def _installed(name: str) -> str:
    if name not in INSTALLED:
        raise importlib.metadata.PackageNotFoundError(name)
    return INSTALLED[name]


def test_versions_at_their_floor_pass(capsys: pytest.CaptureFixture[str]) -> None:
    assert off_floor(["httpx>=0.27,<1", "attrs>=23.1"], _installed) == []
    assert "floor httpx>=0.27: installed 0.27.0" in capsys.readouterr().out


def test_a_newer_version_than_the_floor_is_named() -> None:
    assert off_floor(["uvicorn>=0.29"], _installed) == ["uvicorn 0.30.1 (floor 0.29)"]


def test_a_missing_package_is_named() -> None:
    assert off_floor(["starlette>=0.37"], _installed) == ["starlette not installed (floor 0.37)"]


@pytest.mark.parametrize("text", ["httpx<1", "httpx==0.27", "httpx>=0.27,>=0.28"])
def test_a_requirement_without_one_floor_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="needs exactly one '>=' floor"):
        floor_of(Requirement(text))


def test_floor_of_reads_the_lower_bound() -> None:
    assert floor_of(Requirement("httpx>=0.27,<1")) == Version("0.27")


def test_the_script_exits_1_naming_what_is_off() -> None:
    pytest_version = importlib.metadata.version("pytest")
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "check_floors.py"), "pytest>=1.0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert f"pytest {pytest_version} (floor 1.0)" in done.stderr
    assert main([f"pytest>={pytest_version}"]) == 0
