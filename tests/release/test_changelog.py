"""`release.py notes VERSION`: a version's CHANGELOG.md section is its release notes."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest
from releasing.changelog import release_notes
from releasing.project import ReleaseError, read_version

from tests.release.conftest import ROOT

CHANGELOG = """\
# Changelog

All notable changes to this project are documented here.

## [Unreleased]

### Added
- Something not yet released.

## [1.1.0] - 2026-03-01

### Changed
- `QueueClient.run` takes `priority=`.

### Fixed
- Polling honours `Retry-After`.

## [1.0.0] - 2026-01-15

## 0.9.0

- The first release.

[Unreleased]: https://example.invalid/compare/v1.1.0...HEAD
[1.1.0]: https://example.invalid/compare/v1.0.0...v1.1.0
"""


def test_notes_are_the_body_of_the_version_section() -> None:
    notes = release_notes(CHANGELOG, "1.1.0")

    assert notes == (
        "### Changed\n- `QueueClient.run` takes `priority=`.\n\n"
        "### Fixed\n- Polling honours `Retry-After`."
    )


def test_last_section_stops_before_link_definitions_and_accepts_a_v_prefix() -> None:
    assert release_notes(CHANGELOG, "v0.9.0") == "- The first release."


def test_unreleased_section_is_addressable() -> None:
    assert release_notes(CHANGELOG, "Unreleased") == "### Added\n- Something not yet released."


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("2.0.0", "no section for version 2.0.0"),
        ("1.0", "no section for version 1.0"),  # no fuzzy matching of 1.0 to 1.0.0
        ("1.0.0", "section for version 1.0.0 is empty"),
    ],
)
def test_missing_or_empty_section_is_an_error(version: str, message: str) -> None:
    with pytest.raises(ReleaseError, match=message):
        release_notes(CHANGELOG, version)


def test_the_current_version_has_release_notes() -> None:
    """publish refuses a version without notes; catch that here, before release day."""
    version = read_version(ROOT)

    assert release_notes((ROOT / "CHANGELOG.md").read_text(encoding="utf-8"), version)


def test_cli_prints_notes_and_fails_on_a_missing_version() -> None:
    script = str(ROOT / "tools" / "release.py")
    ok = subprocess.run(
        [sys.executable, script, "notes", read_version(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    missing = subprocess.run(
        [sys.executable, script, "notes", "99.0.0"], capture_output=True, text=True, check=False
    )

    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip()
    assert missing.returncode == 1
    assert "no section for version 99.0.0" in missing.stderr
    assert missing.stdout == ""


def test_notes_run_in_a_plain_venv_without_the_release_dependencies(tmp_path: Path) -> None:
    """The releasing guide runs `notes` with a bare Python: no griffe, packaging or httpx."""
    venv.EnvBuilder(with_pip=False).create(tmp_path / "venv")
    python = tmp_path / "venv" / ("Scripts" if sys.platform == "win32" else "bin") / "python"
    bare = subprocess.run(
        [str(python), "-c", "import griffe"], capture_output=True, text=True, check=False
    )
    assert bare.returncode != 0, "the plain venv must not see griffe"

    result = subprocess.run(
        [str(python), str(ROOT / "tools" / "release.py"), "notes", read_version(ROOT)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
