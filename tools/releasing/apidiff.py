"""Breaking changes in the public API of both packages since a git ref, found by griffe."""

from __future__ import annotations

import io
import re
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import griffe
from packaging.version import InvalidVersion, Version

from releasing.project import (
    PACKAGES,
    VERSION_FILE,
    ReleaseError,
    read_version,
    version_from_source,
)

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class Breakage:
    """One breaking change: the object's dotted path, what happened, griffe's explanation."""

    path: str
    kind: str
    explanation: str


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, check=False)


def last_release_tag(root: Path) -> str | None:
    """The latest `v*` tag reachable from HEAD, or None when there is none."""
    proc = _git(root, "describe", "--tags", "--abbrev=0", "--match", "v*")
    if proc.returncode != 0:
        return None
    return proc.stdout.decode().strip() or None


def _export(root: Path, ref: str, dest: Path) -> None:
    """Write the package folders as of `ref` into `dest`, read-only on the repository."""
    # `git archive` leaves the repository untouched (griffe's own load_git adds a worktree).
    proc = _git(root, "archive", "--format=tar", ref, "--", *sorted(set(PACKAGES.values())))
    if proc.returncode != 0:
        raise ReleaseError(f"cannot read {ref!r} from {root}: {proc.stderr.decode().strip()}")
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
        tar.extractall(dest, filter="data")


def version_at(root: Path, ref: str) -> str:
    """The project version recorded at `ref`."""
    proc = _git(root, "show", f"{ref}:{VERSION_FILE}")
    if proc.returncode != 0:
        raise ReleaseError(f"{ref!r} has no {VERSION_FILE}: {proc.stderr.decode().strip()}")
    return version_from_source(proc.stdout.decode())


def breaking_changes(old_root: Path, new_root: Path) -> list[Breakage]:
    """Every breaking change between the packages under `old_root` and under `new_root`."""
    found = []
    for package, folder in sorted(PACKAGES.items()):
        # Static analysis only: nothing is imported, so neither tree's code runs.
        old, new = (
            griffe.load(
                package,
                search_paths=[root / folder],
                resolve_aliases=True,
                allow_inspection=False,
            )
            for root in (old_root, new_root)
        )
        for breakage in griffe.find_breaking_changes(old, new):
            explanation = _ANSI.sub("", breakage.explain(style=griffe.ExplanationStyle.ONE_LINE))
            # Drop griffe's `file:line: ` prefix: it points into a deleted temporary folder.
            explanation = explanation.split(": ", 1)[-1]
            found.append(Breakage(breakage.obj.path, breakage.kind.value, explanation))
    return found


def major_bumped(old: str, new: str) -> bool:
    """Whether `new`'s major version part is greater than `old`'s."""
    try:
        return Version(new).major > Version(old).major
    except InvalidVersion as exc:
        raise ReleaseError(f"not a PEP 440 version: {exc}") from exc


def api_diff(root: Path, ref: str | None = None) -> int:
    """Print the breaking changes since `ref` (default: the last `v*` tag); exit status.

    1 when there are breaking changes and the major version was not bumped; else 0.
    """
    if ref is None:
        ref = last_release_tag(root)
        if ref is None:
            print("api_diff: no release tag (v*) yet, so there is no released API to compare with")
            return 0
    old_version, new_version = version_at(root, ref), read_version(root)
    with tempfile.TemporaryDirectory(prefix="together-queue-api-") as tmp:
        _export(root, ref, Path(tmp))
        breaks = breaking_changes(Path(tmp), root)
    print(f"api_diff: public API of {', '.join(sorted(PACKAGES))}")
    print(f"  {ref} (version {old_version}) -> work tree (version {new_version})")
    if not breaks:
        print("api_diff: no breaking changes")
        return 0
    print(f"api_diff: {len(breaks)} breaking change(s):")
    for b in breaks:
        print(f"  - {b.path}: {b.kind}")
        print(f"      {b.explanation}")
    if major_bumped(old_version, new_version):
        print(f"api_diff: allowed, the major version was bumped ({old_version} -> {new_version})")
        return 0
    print(
        f"api_diff: FAILED: breaking changes need a major version bump "
        f"(version is {new_version}, {ref} had {old_version})"
    )
    return 1
