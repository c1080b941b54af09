"""Release notes from CHANGELOG.md (Keep a Changelog: one `## [VERSION] - DATE` section each)."""

from __future__ import annotations

import re

from releasing.project import ReleaseError

# `## [1.2.0] - 2026-01-31`, `## [1.2.0]`, `## 1.2.0`: the heading forms Keep a Changelog allows.
_HEADING = re.compile(r"^##\s+\[?v?(?P<version>[^\]\s]+)\]?(?:\s+-\s+.*)?\s*$")
# Link reference definitions (`[1.2.0]: https://...`) belong to the file, not to a section.
_LINK_DEFINITION = re.compile(r"^\[[^\]]+\]:\s+\S")


def release_notes(changelog: str, version: str) -> str:
    """The body of `version`'s section of `changelog`, stripped; ReleaseError if none."""
    wanted = version.removeprefix("v")
    body: list[str] | None = None
    for line in changelog.splitlines():
        heading = _HEADING.match(line)
        if heading or line.startswith("# "):
            if body is not None:
                break
            if heading and heading["version"] == wanted:
                body = []
            continue
        if body is not None and not _LINK_DEFINITION.match(line):
            body.append(line)
    if body is None:
        raise ReleaseError(f"CHANGELOG.md has no section for version {wanted} (`## [{wanted}]`)")
    notes = "\n".join(body).strip()
    if not notes:
        raise ReleaseError(f"CHANGELOG.md's section for version {wanted} is empty")
    return notes
