"""The results file holds job outputs: created 0600, never widened, no foreign symlinks."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from together_queue.emulator import EmulatorHandle

from .conftest import run_cli


def _jobs(path: Path, count: int) -> Path:
    path.write_text("".join(json.dumps({"n": n}) + "\n" for n in range(count)))
    return path


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask of 0 for the CLI runs (inherited): any mode the CLI asks for shows as it is."""
    before = os.umask(0)
    try:
        yield
    finally:
        os.umask(before)


@pytest.mark.usefixtures("open_umask")
def test_a_new_results_file_is_0600(emulator: EmulatorHandle, tmp_path: Path, model: str) -> None:
    jobs = _jobs(tmp_path / "jobs.jsonl", 2)
    out = tmp_path / "results.jsonl"
    result = run_cli("submit", "--file", str(jobs), "--model", model, "--output", str(out),
                     url=emulator.url)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert _mode(out) == 0o600


@pytest.mark.parametrize(("before", "after"), [(0o666, 0o644), (0o600, 0o600), (0o640, 0o640)])
def test_compacting_never_widens_the_mode(
    emulator: EmulatorHandle, tmp_path: Path, model: str, before: int, after: int
) -> None:
    jobs = _jobs(tmp_path / "jobs.jsonl", 2)
    out = tmp_path / "results.jsonl"
    args = ["submit", "--file", str(jobs), "--model", model, "--output", str(out)]
    assert run_cli(*args, url=emulator.url).returncode == 0
    os.chmod(out, before)
    resumed = run_cli(*args, "--resume", url=emulator.url)  # compacts again at the end
    assert resumed.returncode == 0, resumed.stderr
    assert _mode(out) == after


def test_a_dangling_symlink_at_output_is_refused(tmp_path: Path, model: str) -> None:
    jobs = _jobs(tmp_path / "jobs.jsonl", 1)
    target = tmp_path / "elsewhere" / "planted.jsonl"
    target.parent.mkdir()
    link = tmp_path / "results.jsonl"
    link.symlink_to(target)
    result = run_cli("submit", "--file", str(jobs), "--model", model, "--output", str(link),
                     url="http://127.0.0.1:9")  # fmt: skip
    assert result.returncode == 2
    assert "symlink to a file that does not exist" in result.stderr
    assert not target.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
@pytest.mark.parametrize("foreign", ["link", "target"])
def test_a_symlink_owned_by_another_user_is_refused(
    tmp_path: Path, model: str, foreign: str
) -> None:
    jobs = _jobs(tmp_path / "jobs.jsonl", 1)
    target = tmp_path / "theirs.jsonl"
    target.touch()
    link = tmp_path / "results.jsonl"
    link.symlink_to(target)
    nobody = 65534
    if foreign == "link":
        os.lchown(link, nobody, -1)
    else:
        os.chown(target, nobody, -1)
    result = run_cli("submit", "--file", str(jobs), "--model", model, "--output", str(link),
                     url="http://127.0.0.1:9")  # fmt: skip
    assert result.returncode == 2
    assert "belongs to another user" in result.stderr
    assert target.read_text() == ""
