"""Shared helpers for the release-pipeline tests: snapshots of the work tree as git repos."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# tools/ is not a package; the release modules import as `releasing.*` (as tools/release.py does).
sys.path.insert(0, str(ROOT / "tools"))

# Identity and signing settings for commits and tags in throwaway repositories only.
_GIT_CONFIG = (
    "-c",
    "user.name=release-tests",
    "-c",
    "user.email=release-tests@localhost",
    "-c",
    "commit.gpgsign=false",
    "-c",
    "tag.gpgsign=false",
)


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` (a throwaway snapshot); return stdout; fail the test on error."""
    proc = subprocess.run(
        ["git", *_GIT_CONFIG, "-C", str(repo), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, f"git {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}"
    return proc.stdout


def snapshot_repo(dest: Path) -> Path:
    """Copy the work tree as a commit would hold it into `dest`, as a fresh one-commit repo.

    Tracked and untracked-but-not-ignored files are copied (so work in progress is
    tested too), caches and dist/ are not; /work/main's own git state is only read.
    """
    listed = git(ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "snapshot")
    return dest


@pytest.fixture(scope="session")
def pristine_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One snapshot of the project per test session; tests get clones of it."""
    return snapshot_repo(tmp_path_factory.mktemp("pristine") / "repo")


@pytest.fixture
def repo(pristine_repo: Path, tmp_path: Path) -> Path:
    """A clean git repo of its own holding the project (a local clone of the snapshot)."""
    dest = tmp_path / "repo"
    git(tmp_path, "clone", "-q", str(pristine_repo), str(dest))
    return dest


SYNC_CLIENT = "overlay/together_queue/_sync/client.py"
"""Where `QueueClient`'s methods are written (generated from the async source)."""

METRICS_OPTIONS = (
    "        *,\n"
    "        extra_headers: Mapping[str, str] | None = None,\n"
    "        extra_query: Mapping[str, Any] | None = None,\n"
    "        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,\n"
    "    ) -> QueueMetrics:"
)
"""The rest of `QueueClient.metrics`'s signature after `model`: unique in `SYNC_CLIENT`
(the raw-response twin returns a `RawResponse`)."""


def break_metrics(repo: Path) -> None:
    """Retype `QueueClient.metrics(model)` from `str` to `bytes` in `repo`: an API break."""
    client = repo / SYNC_CLIENT
    old = "        model: str,\n" + METRICS_OPTIONS
    source = client.read_text(encoding="utf-8")
    assert source.count(old) == 1, f"QueueClient.metrics's signature is not in {client}"
    client.write_text(source.replace(old, old.replace("str,", "bytes,", 1)), encoding="utf-8")
