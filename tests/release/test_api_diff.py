"""`release.py api-diff`: public API breaks since a tag fail, unless the major version grew."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.release.conftest import git


def api_diff(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the snapshot's own `tools/release.py api-diff` from inside it."""
    return subprocess.run(
        [sys.executable, str(repo / "tools" / "release.py"), "api-diff", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def remove_function(path: Path, qualname: str) -> None:
    """Delete the (method or module-level) function `qualname` from the source file `path`."""
    source = path.read_text(encoding="utf-8")
    scope: list[ast.stmt] = ast.parse(source).body
    *owners, name = qualname.split(".")
    for owner in owners:
        scope = next(n for n in scope if isinstance(n, ast.ClassDef) and n.name == owner).body
    node = next(
        n for n in scope if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == name
    )
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    assert node.end_lineno is not None
    lines = source.splitlines(keepends=True)
    path.write_text("".join(lines[: first - 1] + lines[node.end_lineno :]), encoding="utf-8")


def set_version(repo: Path, version: str) -> None:
    (repo / "overlay/together_queue/_version.py").write_text(f'__version__ = "{version}"\n')


def test_without_a_release_tag_there_is_nothing_to_compare(repo: Path) -> None:
    result = api_diff(repo)

    assert result.returncode == 0, result.stderr
    assert "no release tag (v*) yet" in result.stdout


def test_an_unchanged_api_passes(repo: Path) -> None:
    git(repo, "tag", "v0.1.0")

    result = api_diff(repo)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "v0.1.0" in result.stdout
    assert "no breaking changes" in result.stdout


@pytest.mark.parametrize(
    ("file", "qualname", "reported"),
    [
        (
            "overlay/together_queue/client.py",
            "QueueClient.metrics",
            "together_queue.client.QueueClient.metrics",
        ),
        (
            "generated/together_queue_api/api/queue/get_queue_metrics.py",
            "sync_detailed",
            "together_queue_api.api.queue.get_queue_metrics.sync_detailed",
        ),
    ],
)
def test_a_removed_public_function_fails_and_is_named(
    repo: Path, file: str, qualname: str, reported: str
) -> None:
    git(repo, "tag", "v0.1.0")
    remove_function(repo / file, qualname)

    result = api_diff(repo)

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"- {reported}: Public object was removed" in result.stdout
    assert "FAILED: breaking changes need a major version bump" in result.stdout


def test_a_major_bump_allows_the_break_but_still_lists_it(repo: Path) -> None:
    git(repo, "tag", "v0.1.0")
    remove_function(repo / "overlay/together_queue/client.py", "QueueClient.metrics")
    set_version(repo, "1.0.0")

    result = api_diff(repo)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "- together_queue.client.QueueClient.metrics: Public object was removed" in result.stdout
    assert "allowed, the major version was bumped (0.1.0 -> 1.0.0)" in result.stdout


def test_a_minor_bump_does_not_allow_a_break(repo: Path) -> None:
    git(repo, "tag", "v0.1.0")
    remove_function(repo / "overlay/together_queue/client.py", "QueueClient.metrics")
    set_version(repo, "0.2.0")

    assert api_diff(repo).returncode == 1


def test_an_explicit_ref_is_compared_with_and_the_latest_tag_is_the_default(repo: Path) -> None:
    git(repo, "tag", "v0.1.0")
    remove_function(repo / "overlay/together_queue/client.py", "QueueClient.metrics")
    set_version(repo, "1.0.0")
    git(repo, "commit", "-q", "-am", "1.0.0: drop metrics")
    git(repo, "tag", "v1.0.0")

    against_latest = api_diff(repo)
    against_old = api_diff(repo, "v0.1.0")

    assert against_latest.returncode == 0
    assert "v1.0.0 (version 1.0.0)" in against_latest.stdout
    assert "no breaking changes" in against_latest.stdout
    assert against_old.returncode == 0
    assert "QueueClient.metrics: Public object was removed" in against_old.stdout


def test_an_unknown_ref_is_an_error(repo: Path) -> None:
    result = api_diff(repo, "v9.9.9")

    assert result.returncode == 1
    assert "v9.9.9" in result.stderr
