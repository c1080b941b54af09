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


_UNRELEASED = re.compile(r"^##\s+\[?Unreleased\]?\s*$", re.IGNORECASE)


def promote_unreleased(changelog: str, version: str, date: str) -> str:
    """`changelog` with its Unreleased entries moved under `## [version] - date`.

    An empty Unreleased heading stays on top for the next changes. ReleaseError when
    there is no Unreleased section, it is empty, or `version` already has a section.
    """
    lines = changelog.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if _UNRELEASED.match(line.rstrip())), None)
    if start is None:
        raise ReleaseError("CHANGELOG.md has no `## [Unreleased]` section to release")
    for line in lines:
        heading = _HEADING.match(line.rstrip())
        if heading and heading["version"] == version:
            raise ReleaseError(f"CHANGELOG.md already has a section for {version}")
    end = start + 1
    while end < len(lines) and not (
        _HEADING.match(lines[end].rstrip())
        or lines[end].startswith("# ")
        or _LINK_DEFINITION.match(lines[end])
    ):
        end += 1
    body = "".join(lines[start + 1 : end]).strip("\n")
    if not body.strip():
        raise ReleaseError(
            f"CHANGELOG.md's Unreleased section is empty: nothing to release as {version}"
        )
    bracketed = "[" in lines[start]
    title = f"[{version}]" if bracketed else version
    section = f"{lines[start].rstrip()}\n\n## {title} - {date}\n\n{body}\n\n"
    return "".join(lines[:start]) + section + "".join(lines[end:])
