"""`release.py prepare VERSION`: the one command that turns Unreleased work into a release.

It sets the version, moves CHANGELOG.md's Unreleased entries under a dated section,
and writes the public API snapshot `api/public-api-VERSION.json` that `api_diff`
compares with from then on. Everything is checked before anything is written, the
API too: against the current release, a break must be declared for a release up to
VERSION or VERSION must bump the major. It neither commits nor tags: review the
diff, then commit (and tag, if you use tags).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from packaging.version import InvalidVersion, Version

from releasing.apidiff import accepted_breaks, breaking_changes_between, major_bumped
from releasing.changelog import promote_unreleased
from releasing.project import CHANGELOG, VERSION_FILE, ReleaseError, read_version
from releasing.snapshot import (
    baseline_snapshot,
    load_snapshot,
    load_tree,
    snapshot_path,
    write_snapshot,
)

_ASSIGNMENT = re.compile(r'^__version__ = "[^"]*"$', re.MULTILINE)


def prepare(root: Path, version: str, date: str | None = None) -> list[Path]:
    """Prepare release `version` in the project at `root`; return the files written."""
    try:
        new = Version(version)
    except InvalidVersion:
        raise ReleaseError(f"not a PEP 440 version: {version!r}") from None
    if str(new) != version:
        raise ReleaseError(f"write the version in its normal form: {new} (not {version})")
    current = read_version(root)
    if new <= Version(current):
        raise ReleaseError(f"{version} is not newer than the current version {current}")
    if snapshot_path(root, version).exists():
        raise ReleaseError(f"{snapshot_path(root, version)} exists already")
    when = date or dt.date.today().isoformat()
    try:
        dt.date.fromisoformat(when)
    except ValueError:
        raise ReleaseError(f"not a YYYY-MM-DD date: {when!r}") from None
    changelog_path = root / CHANGELOG
    changelog = promote_unreleased(changelog_path.read_text(encoding="utf-8"), version, when)
    version_path = root / VERSION_FILE
    source = version_path.read_text(encoding="utf-8")
    if len(_ASSIGNMENT.findall(source)) != 1:
        raise ReleaseError(f'{VERSION_FILE} needs exactly one `__version__ = "..."` line')
    check_api(root, current, version)

    changelog_path.write_text(changelog, encoding="utf-8")
    version_path.write_text(_ASSIGNMENT.sub(f'__version__ = "{version}"', source), encoding="utf-8")
    # Last: the snapshot is of the tree as released, version file included.
    return [version_path, changelog_path, write_snapshot(root, version)]


def check_api(root: Path, current: str, version: str) -> None:
    """ReleaseError when `version` breaks the API of release `current` without leave.

    Leave is a declaration in `api/accepted-breaks.toml` for a release after `current`
    up to `version`, or a major version bump. Once the new snapshot is written,
    `api_diff` compares with it, so this is where the release as a whole is judged.
    """
    baseline = baseline_snapshot(root, current)
    if baseline is None:
        return
    old_version, old_tree = load_snapshot(baseline)
    declared = accepted_breaks(root, old_version, version)
    breaks = [
        b for b in breaking_changes_between(old_tree, load_tree(root)) if b.path not in declared
    ]
    if breaks and not major_bumped(old_version, version):
        listing = "\n  ".join(f"{b.path}: {b.explanation}" for b in breaks)
        raise ReleaseError(
            f"{version} breaks the API of {old_version} ({baseline.name}) without a major "
            f"version bump or a declaration in api/accepted-breaks.toml:\n  {listing}"
        )
