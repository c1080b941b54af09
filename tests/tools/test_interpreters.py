"""tools/interpreters.py: a matrix version counts only when a real interpreter runs."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import interpreters  # noqa: E402

RUNNING = f"{sys.version_info.major}.{sys.version_info.minor}"
# A version no machine running this suite has as its own interpreter.
OTHER = "3.99"


def _script(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def _fake_python(path: Path, version: str) -> Path:
    """An executable that answers the probe as CPython `version` would."""
    return _script(path, f'echo "cpython {version}"')


def _shim(path: Path) -> Path:
    """What pyenv's shim does for an installed but inactive version."""
    return _script(path, 'echo "pyenv: $(basename "$0"): command not found" >&2; exit 127')


def _env(tmp_path: Path, path_dirs: list[Path]) -> dict[str, str]:
    return {
        "PATH": os.pathsep.join(str(d) for d in path_dirs),
        "PYENV_ROOT": str(tmp_path / "pyenv"),
        "HOME": str(tmp_path / "home"),
    }


def test_a_working_interpreter_on_path_is_found(tmp_path: Path) -> None:
    exe = _fake_python(tmp_path / "bin" / f"python{OTHER}", OTHER)
    assert interpreters.find_python(OTHER, _env(tmp_path, [tmp_path / "bin"])) == str(exe)


def test_a_failing_shim_counts_as_absent(tmp_path: Path) -> None:
    _shim(tmp_path / "shims" / f"python{OTHER}")
    assert interpreters.find_python(OTHER, _env(tmp_path, [tmp_path / "shims"])) is None


def test_pyenv_versions_are_used_behind_a_failing_shim(tmp_path: Path) -> None:
    _shim(tmp_path / "shims" / f"python{OTHER}")
    versions = tmp_path / "pyenv" / "versions"
    _fake_python(versions / f"{OTHER}.2" / "bin" / f"python{OTHER}", OTHER)
    newest = _fake_python(versions / f"{OTHER}.10" / "bin" / f"python{OTHER}", OTHER)
    env = _env(tmp_path, [tmp_path / "shims"])
    assert interpreters.find_python(OTHER, env) == str(newest)


def test_pyenv_root_defaults_to_home(tmp_path: Path) -> None:
    exe = tmp_path / "home" / ".pyenv" / "versions" / f"{OTHER}.0" / "bin" / f"python{OTHER}"
    _fake_python(exe, OTHER)
    env = _env(tmp_path, [])
    del env["PYENV_ROOT"]
    assert interpreters.find_python(OTHER, env) == str(exe)


def test_a_broken_pyenv_build_falls_through_to_an_older_one(tmp_path: Path) -> None:
    versions = tmp_path / "pyenv" / "versions"
    older = _fake_python(versions / f"{OTHER}.1" / "bin" / f"python{OTHER}", OTHER)
    _script(versions / f"{OTHER}.3" / "bin" / f"python{OTHER}", "exit 1")
    assert interpreters.find_python(OTHER, _env(tmp_path, [])) == str(older)


def test_an_interpreter_reporting_another_version_is_rejected(tmp_path: Path) -> None:
    _fake_python(tmp_path / "bin" / f"python{OTHER}", "3.98")
    assert interpreters.find_python(OTHER, _env(tmp_path, [tmp_path / "bin"])) is None


def test_a_non_cpython_interpreter_is_rejected(tmp_path: Path) -> None:
    _script(tmp_path / "bin" / f"python{OTHER}", f'echo "pypy {OTHER}"')
    assert interpreters.find_python(OTHER, _env(tmp_path, [tmp_path / "bin"])) is None


def test_pyenv_directories_that_are_not_releases_are_ignored(tmp_path: Path) -> None:
    versions = tmp_path / "pyenv" / "versions"
    _fake_python(versions / f"{OTHER}-dev" / "bin" / f"python{OTHER}", OTHER)
    _fake_python(versions / f"{OTHER}.1-venv" / "bin" / f"python{OTHER}", OTHER)
    assert list(interpreters.candidates(OTHER, _env(tmp_path, []))) == []


def test_a_hanging_candidate_counts_as_absent(tmp_path: Path) -> None:
    _script(tmp_path / "bin" / f"python{OTHER}", "exec sleep 30")
    env = _env(tmp_path, [tmp_path / "bin"])
    assert interpreters.find_python(OTHER, env, timeout=0.5) is None


def test_the_running_interpreter_answers_for_its_own_version() -> None:
    found = interpreters.find_python(RUNNING)
    assert found is not None
    assert interpreters.runs_as(found, RUNNING)


def test_a_real_interpreter_passes_the_probe() -> None:
    assert interpreters.runs_as(sys.executable, RUNNING)
    assert not interpreters.runs_as(sys.executable, OTHER)


@pytest.mark.parametrize("bad", ["3", "312", "python3.12", "3.12.1", "", "3.12;rm"])
def test_a_malformed_version_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match=r"version must look like '3\.12'"):
        interpreters.find_python(bad)
