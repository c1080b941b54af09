"""`release.py prepare VERSION` (nox -s release_prepare) on a scratch copy of the project.

Written against whatever version the project is at, so the tests hold after each release:
CURRENT is the work tree's version (released, with its snapshot), NEXT the next minor.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from packaging.version import Version

from tests.release.conftest import break_metrics, git

ENTRY = "### Added\n- A feature for the next release."


def release(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(repo / "tools" / "release.py"), *args],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def versions(repo: Path) -> tuple[str, str]:
    """(CURRENT, NEXT): the work tree's version and the next minor."""
    source = (repo / "overlay/together_queue/_version.py").read_text()
    current = Version(source.split("__version__ = ", 1)[1].split('"')[1])
    return str(current), f"{current.major}.{current.minor + 1}.0"


def with_unreleased(repo: Path, body: str) -> None:
    """Make `body` the whole Unreleased section of the scratch copy's CHANGELOG.md."""
    path = repo / "CHANGELOG.md"
    head, rest = path.read_text().split("## [Unreleased]\n", 1)
    _, later = rest.split("\n## [", 1)
    section = f"\n{body}\n" if body else ""
    path.write_text(f"{head}## [Unreleased]\n{section}\n## [{later}")
    git(repo, "commit", "-q", "-am", "the Unreleased section for this test")


def with_unreleased_entry(repo: Path) -> None:
    with_unreleased(repo, ENTRY)


def test_prepare_sets_version_dates_changelog_writes_snapshot(repo: Path) -> None:
    current, nxt = versions(repo)
    with_unreleased_entry(repo)

    result = release(repo, "prepare", nxt, "--date", "2026-12-01")

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        "wrote overlay/together_queue/_version.py",
        "wrote CHANGELOG.md",
        f"wrote api/public-api-{nxt}.json",
    ]
    assert f'__version__ = "{nxt}"' in (repo / "overlay/together_queue/_version.py").read_text()
    changelog = (repo / "CHANGELOG.md").read_text()
    assert f"## [Unreleased]\n\n## [{nxt}] - 2026-12-01\n\n{ENTRY}\n\n## [{current}]" in changelog
    notes = release(repo, "notes", nxt)
    assert notes.returncode == 0 and notes.stdout.strip() == ENTRY
    snapshot = json.loads((repo / f"api/public-api-{nxt}.json").read_text())
    assert snapshot["version"] == nxt
    assert set(snapshot["packages"]) == {"together_queue", "together_queue_api"}

    # From now on api_diff holds the work tree to the release just prepared.
    diff = release(repo, "api-diff")
    assert diff.returncode == 0, diff.stdout + diff.stderr
    assert f"api/public-api-{nxt}.json (version {nxt}) -> work tree" in diff.stdout
    assert "no breaking changes" in diff.stdout

    # Once prepared, the same version cannot be prepared again.
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", nxt)
    again = release(repo, "prepare", nxt)
    assert again.returncode == 1
    assert f"not newer than the current version {nxt}" in again.stderr


def test_prepare_refuses_an_empty_unreleased_section_and_writes_nothing(repo: Path) -> None:
    _, nxt = versions(repo)
    with_unreleased(repo, "")
    before = git(repo, "status", "--porcelain")

    result = release(repo, "prepare", nxt)

    assert result.returncode == 1
    assert "Unreleased section is empty" in result.stderr
    assert git(repo, "status", "--porcelain") == before
    assert not (repo / f"api/public-api-{nxt}.json").exists()


def test_prepare_refuses_a_bad_or_older_version(repo: Path) -> None:
    current, nxt = versions(repo)
    with_unreleased_entry(repo)
    for version, message in (
        ("two", "not a PEP 440 version"),
        ("0.0.9", f"not newer than the current version {current}"),
        (current, f"not newer than the current version {current}"),
        (f"v{nxt}", f"normal form: {nxt}"),
    ):
        result = release(repo, "prepare", version)
        assert result.returncode == 1, version
        assert message in result.stderr, (version, result.stderr)


def _break_metrics(repo: Path) -> None:
    break_metrics(repo)
    git(repo, "commit", "-q", "-am", "a break")


def test_prepare_refuses_an_undeclared_api_break_and_writes_nothing(repo: Path) -> None:
    current, nxt = versions(repo)
    with_unreleased_entry(repo)
    _break_metrics(repo)

    result = release(repo, "prepare", nxt)

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{nxt} breaks the API of {current}" in result.stderr
    assert "QueueClient.metrics(model): annotation changed: str -> bytes" in result.stderr
    assert git(repo, "status", "--porcelain") == ""


def test_prepare_takes_a_major_bump_or_a_break_declared_for_the_release(repo: Path) -> None:
    current, nxt = versions(repo)
    with_unreleased_entry(repo)
    _break_metrics(repo)

    bumped = release(repo, "prepare", f"{Version(current).major + 1}.0.0")
    git(repo, "checkout", "-q", ".")
    git(repo, "clean", "-qfd")
    with (repo / "api/accepted-breaks.toml").open("a", encoding="utf-8") as handle:
        handle.write(
            f'\n[[break]]\nversion = "{nxt}"\n'
            'path = "together_queue.QueueClient.metrics"\nreason = "bytes names"\n'
        )
    declared = release(repo, "prepare", nxt)

    assert bumped.returncode == 0, bumped.stdout + bumped.stderr
    assert declared.returncode == 0, declared.stdout + declared.stderr
