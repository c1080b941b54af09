"""`release.py prepare VERSION`: the one command that turns Unreleased work into a release.

It sets the version, moves CHANGELOG.md's Unreleased entries under a dated section,
and writes the public API snapshot `api/public-api-VERSION.json` that the next
`api_diff` compares with. Everything is checked before anything is written. It
neither commits nor tags: review the diff, then commit (and tag, if you use tags).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from packaging.version import InvalidVersion, Version

from releasing.changelog import promote_unreleased
from releasing.project import CHANGELOG, VERSION_FILE, ReleaseError, read_version
from releasing.snapshot import snapshot_path, write_snapshot

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

    changelog_path.write_text(changelog, encoding="utf-8")
    version_path.write_text(_ASSIGNMENT.sub(f'__version__ = "{version}"', source), encoding="utf-8")
    # Last: the snapshot is of the tree as released, version file included.
    return [version_path, changelog_path, write_snapshot(root, version)]
