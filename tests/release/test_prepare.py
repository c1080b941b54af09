"""`release.py prepare VERSION` (nox -s release_prepare) on a scratch copy of the project."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.release.conftest import git


def release(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(repo / "tools" / "release.py"), *args],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_prepare_sets_version_dates_changelog_writes_snapshot(repo: Path) -> None:
    unreleased = (repo / "CHANGELOG.md").read_text().split("## [Unreleased]", 1)[1]
    entries = unreleased.split("\n## [0.1.0]", 1)[0].strip()
    assert entries  # this branch's own entries are what gets released

    result = release(repo, "prepare", "0.2.0", "--date", "2026-12-01")

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        "wrote overlay/together_queue/_version.py",
        "wrote CHANGELOG.md",
        "wrote api/public-api-0.2.0.json",
    ]
    assert '__version__ = "0.2.0"' in (repo / "overlay/together_queue/_version.py").read_text()
    changelog = (repo / "CHANGELOG.md").read_text()
    assert f"## [Unreleased]\n\n## [0.2.0] - 2026-12-01\n\n{entries}\n\n## [0.1.0]" in changelog
    notes = release(repo, "notes", "0.2.0")
    assert notes.returncode == 0 and notes.stdout.strip() == entries
    snapshot = json.loads((repo / "api/public-api-0.2.0.json").read_text())
    assert snapshot["version"] == "0.2.0"
    assert set(snapshot["packages"]) == {"together_queue", "together_queue_api"}

    # The release compares with 0.1.0 (the newest older snapshot), not with itself.
    diff = release(repo, "api-diff")
    assert diff.returncode == 0, diff.stdout + diff.stderr
    assert "api/public-api-0.1.0.json (version 0.1.0) -> work tree (version 0.2.0)" in diff.stdout
    assert "+ together_queue.QueueClient.clear" in diff.stdout

    # Once prepared, the same version cannot be prepared again.
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "0.2.0")
    again = release(repo, "prepare", "0.2.0")
    assert again.returncode == 1
    assert "not newer than the current version 0.2.0" in again.stderr


def test_prepare_refuses_an_empty_unreleased_section_and_writes_nothing(repo: Path) -> None:
    path = repo / "CHANGELOG.md"
    head, rest = path.read_text().split("## [Unreleased]", 1)
    path.write_text(head + "## [Unreleased]\n\n## [0.1.0]" + rest.split("## [0.1.0]", 1)[1])
    before = git(repo, "status", "--porcelain")

    result = release(repo, "prepare", "0.2.0")

    assert result.returncode == 1
    assert "Unreleased section is empty" in result.stderr
    assert git(repo, "status", "--porcelain") == before
    assert not (repo / "api/public-api-0.2.0.json").exists()


def test_prepare_refuses_a_bad_or_older_version(repo: Path) -> None:
    for version, message in (
        ("two", "not a PEP 440 version"),
        ("0.0.9", "not newer than the current version 0.1.0"),
        ("0.1.0", "not newer than the current version 0.1.0"),
        ("v0.2.0", "normal form: 0.2.0"),
    ):
        result = release(repo, "prepare", version)
        assert result.returncode == 1, version
        assert message in result.stderr, (version, result.stderr)
