"""Publish with twine to the index named by TWINE_*; refuse anything that could ship badly."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from packaging.utils import canonicalize_version

from releasing import apidiff, changelog, index
from releasing.pipeline import build_and_check
from releasing.proc import run
from releasing.project import CHANGELOG, DIST_NAME, Refused, ReleaseError, read_version


def dirty_files(root: Path) -> list[str]:
    """`git status --porcelain` lines for `root` (untracked files included); Refused if no repo."""
    proc = subprocess.run(
        ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=all"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise Refused(f"{root} is not a git work tree: {proc.stderr.strip()}")
    return proc.stdout.splitlines()


def check_clean(root: Path) -> None:
    """Refused unless the work tree at `root` matches its commit exactly."""
    dirty = dirty_files(root)
    if dirty:
        listing = "\n  ".join(dirty[:20]) + ("\n  ..." if len(dirty) > 20 else "")
        raise Refused(f"the work tree is not clean; commit or remove:\n  {listing}")


def check_tagged(root: Path, version: str) -> None:
    """Refused unless HEAD carries the release tag `v{version}` (what gets published is tagged)."""
    tag = f"v{version}"
    proc = subprocess.run(
        ["git", "-C", str(root), "tag", "--points-at", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise Refused(f"cannot read the tags of HEAD: {proc.stderr.strip()}")
    if tag not in proc.stdout.split():
        raise Refused(
            f"HEAD is not tagged {tag}; commit the release, `git tag {tag}`, then publish"
        )


def check_api(root: Path) -> None:
    """Refused when api_diff finds breaking changes the version does not allow."""
    if apidiff.api_diff(root) != 0:
        raise Refused("api_diff found breaking changes without a major version bump (see above)")


def check_new_version(simple_url: str, version: str, env: Mapping[str, str]) -> None:
    """Refused if the index at `simple_url` already serves `version` of the distribution."""
    user, password = env.get("TWINE_USERNAME"), env.get("TWINE_PASSWORD")
    auth = (user, password) if user and password else None
    versions = index.published_versions(simple_url, DIST_NAME, auth)
    if canonicalize_version(version) in versions:
        raise Refused(f"{DIST_NAME} {version} is already on {simple_url}; bump the version")
    print(f"{DIST_NAME} {version} is new on {simple_url} (it has: {sorted(versions) or 'none'})")


def publish(
    root: Path, outdir: Path, env: Mapping[str, str] | None = None, index_url: str | None = None
) -> None:
    """Check, build and upload the project at `root` to $TWINE_REPOSITORY_URL.

    Refuses (Refused) without uploading anything when: TWINE_REPOSITORY_URL is unset
    (no silent default to PyPI), the tree is dirty, CHANGELOG.md has no notes for the
    version, HEAD is not tagged `v{version}`, api_diff finds an unallowed break, the
    index already has the version, or any build check fails (ReleaseError).
    """
    env = os.environ if env is None else env
    repository_url = env.get("TWINE_REPOSITORY_URL", "")
    if not repository_url:
        raise Refused(
            "TWINE_REPOSITORY_URL is not set; name the index's upload URL explicitly "
            "(and its simple index with --index-url if it serves from another host)"
        )
    check_clean(root)
    version = read_version(root)
    try:
        changelog.release_notes((root / CHANGELOG).read_text(encoding="utf-8"), version)
    except ReleaseError as exc:
        raise Refused(f"no release notes: {exc}") from exc
    check_tagged(root, version)
    check_api(root)
    index.check_credentials_transport(repository_url, env)
    simple_url = index_url or index.simple_index_url(repository_url)
    check_new_version(simple_url, version, env)
    built = build_and_check(root, outdir)
    # The build must not have dirtied the tree (dist/ is ignored; anything else is a bug).
    check_clean(root)
    twine = [sys.executable, "-m", "twine", "upload", "--non-interactive", "--disable-progress-bar"]
    print(run([*twine, "--repository-url", repository_url, built.sdist, built.wheel], env=env))
    print(f"published {DIST_NAME} {version} to {repository_url}")
