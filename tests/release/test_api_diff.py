"""`release.py api-diff`: public API breaks since the last release fail, unless the major grew.

The last release is the committed snapshot of the version the work tree declares
(api/public-api-<version>.json, no tag needed); the tag-based tests remove api/ first, to
exercise the fallback to the last `v*` tag.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.release.conftest import METRICS_OPTIONS, git


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


def rename_function(path: Path, qualname: str, new_name: str) -> None:
    """Rename the (method or module-level) function `qualname` of the source file `path`."""
    source = path.read_text(encoding="utf-8")
    scope: list[ast.stmt] = ast.parse(source).body
    *owners, name = qualname.split(".")
    for owner in owners:
        scope = next(n for n in scope if isinstance(n, ast.ClassDef) and n.name == owner).body
    node = next(
        n for n in scope if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == name
    )
    lines = source.splitlines(keepends=True)
    lines[node.lineno - 1] = lines[node.lineno - 1].replace(f"def {name}(", f"def {new_name}(", 1)
    path.write_text("".join(lines), encoding="utf-8")


def current_snapshot(repo: Path) -> str:
    """How api_diff names the snapshot of the version the work tree declares."""
    version = ast.literal_eval(
        (repo / "overlay/together_queue/_version.py").read_text().rsplit("=", 1)[1].strip()
    )
    assert (repo / f"api/public-api-{version}.json").is_file(), "the current release has one"
    return f"api/public-api-{version}.json (version {version})"


def set_version(repo: Path, version: str) -> None:
    (repo / "overlay/together_queue/_version.py").write_text(f'__version__ = "{version}"\n')


def release_0_1_0(repo: Path) -> None:
    """Tag HEAD as the 0.1.0 release and start the next one (0.1.1) in the work tree.

    The committed snapshots describe the real releases, not this tagged tree: they go,
    so that the tag is the baseline (the tag-based path of api_diff).
    """
    for snapshot in (repo / "api").glob("public-api-*.json"):
        snapshot.unlink()
    set_version(repo, "0.1.0")
    git(repo, "commit", "-q", "--allow-empty", "-am", "0.1.0")
    git(repo, "tag", "v0.1.0")
    set_version(repo, "0.1.1")


def without_snapshots(repo: Path) -> None:
    """Remove the committed API snapshots, as a project that predates them would be."""
    shutil.rmtree(repo / "api")
    git(repo, "commit", "-q", "-am", "no snapshots")


def test_without_tags_the_current_release_snapshot_is_compared_and_additions_listed(
    repo: Path,
) -> None:
    assert git(repo, "tag", "--list") == ""
    (repo / "overlay/together_queue/extras.py").write_text(
        '"""New."""\n\n\ndef helper() -> None:\n    """New."""\n'
    )

    result = api_diff(repo)

    assert result.returncode == 0, result.stdout + result.stderr
    assert current_snapshot(repo) in result.stdout
    # New since the release: an addition, listed, not a failure.
    assert "+ together_queue.extras" in result.stdout
    assert "no breaking changes" in result.stdout


def test_the_committed_snapshot_of_the_current_release_matches_the_work_tree(repo: Path) -> None:
    result = api_diff(repo)

    assert result.returncode == 0, result.stdout + result.stderr
    assert current_snapshot(repo) in result.stdout


def test_renaming_a_method_that_shipped_in_the_current_release_fails(repo: Path) -> None:
    # clear shipped in 0.2.0: the release before it (0.1.0) had none, so only a
    # comparison with the current release's own snapshot sees the rename.
    rename_function(
        repo / "overlay/together_queue/_sync/client.py", "QueueClient.clear", "clear_model"
    )

    result = api_diff(repo)

    assert result.returncode == 1, result.stdout + result.stderr
    assert current_snapshot(repo) in result.stdout
    assert "- together_queue.client.QueueClient.clear: Public object was removed" in (result.stdout)
    assert "FAILED: breaking changes need a major version bump" in result.stdout


def test_without_tags_removing_queue_client_metrics_fails(repo: Path) -> None:
    remove_function(repo / "overlay/together_queue/_sync/client.py", "QueueClient.metrics")

    result = api_diff(repo)

    assert result.returncode == 1, result.stdout + result.stderr
    assert current_snapshot(repo) in result.stdout
    assert "- together_queue.client.QueueClient.metrics: Public object was removed" in (
        result.stdout
    )
    assert "FAILED: breaking changes need a major version bump" in result.stdout


def test_the_newest_snapshot_not_newer_than_the_version_is_the_baseline(repo: Path) -> None:
    # Releases 7.1.0 and 7.3.0 (another branch's) beside the real ones; the tree at 7.2.0.
    released = next((repo / "api").glob("public-api-*.json")).read_text()
    for version in ("7.1.0", "7.3.0"):
        (repo / f"api/public-api-{version}.json").write_text(
            re.sub(r'^"version": "[^"]*"', f'"version": "{version}"', released, flags=re.M)
        )
    set_version(repo, "7.2.0")
    newer = api_diff(repo)
    set_version(repo, "7.1.0")
    equal = api_diff(repo)

    assert "api/public-api-7.1.0.json (version 7.1.0)" in newer.stdout
    assert "api/public-api-7.1.0.json (version 7.1.0)" in equal.stdout


def test_without_a_snapshot_or_a_release_tag_there_is_nothing_to_compare(repo: Path) -> None:
    without_snapshots(repo)

    result = api_diff(repo)

    assert result.returncode == 0, result.stderr
    assert "no API snapshot (api/public-api-*.json) and no release tag (v*)" in result.stdout


def test_an_unchanged_api_passes(repo: Path) -> None:
    release_0_1_0(repo)

    result = api_diff(repo)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no breaking changes" in result.stdout


@pytest.mark.parametrize(
    ("file", "qualname", "reported"),
    [
        (
            "overlay/together_queue/_sync/client.py",
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
    release_0_1_0(repo)
    remove_function(repo / file, qualname)

    result = api_diff(repo)

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"- {reported}: Public object was removed" in result.stdout
    assert "FAILED: breaking changes need a major version bump" in result.stdout


def test_a_major_bump_allows_the_break_but_still_lists_it(repo: Path) -> None:
    release_0_1_0(repo)
    remove_function(repo / "overlay/together_queue/_sync/client.py", "QueueClient.metrics")
    set_version(repo, "1.0.0")

    result = api_diff(repo)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "- together_queue.client.QueueClient.metrics: Public object was removed" in result.stdout
    assert "allowed, the major version was bumped (0.1.0 -> 1.0.0)" in result.stdout


def test_a_minor_bump_does_not_allow_a_break(repo: Path) -> None:
    release_0_1_0(repo)
    remove_function(repo / "overlay/together_queue/_sync/client.py", "QueueClient.metrics")
    set_version(repo, "0.2.0")

    assert api_diff(repo).returncode == 1


def test_an_explicit_ref_is_compared_with_and_the_latest_tag_is_the_default(repo: Path) -> None:
    without_snapshots(repo)
    release_0_1_0(repo)
    remove_function(repo / "overlay/together_queue/_sync/client.py", "QueueClient.metrics")
    set_version(repo, "1.0.0")
    git(repo, "commit", "-q", "-am", "1.0.0: drop metrics")
    git(repo, "tag", "v1.0.0")

    git(repo, "commit", "-q", "--allow-empty", "-m", "after 1.0.0")
    set_version(repo, "1.0.1")

    against_latest = api_diff(repo)
    against_old = api_diff(repo, "v0.1.0")

    assert against_latest.returncode == 0
    assert "v1.0.0 (version 1.0.0)" in against_latest.stdout
    assert "no breaking changes" in against_latest.stdout
    assert against_old.returncode == 0  # 0.1.0 -> 1.0.1: a major bump
    assert "QueueClient.metrics: Public object was removed" in against_old.stdout


def test_in_the_release_order_the_new_tag_is_not_compared_with_itself(repo: Path) -> None:
    # README's order: commit the release, tag it, then run api_diff.
    without_snapshots(repo)
    set_version(repo, "0.1.0")
    git(repo, "commit", "-q", "-am", "0.1.0")
    git(repo, "tag", "v0.1.0")
    remove_function(repo / "overlay/together_queue/_sync/client.py", "QueueClient.metrics")
    set_version(repo, "0.2.0")
    git(repo, "commit", "-q", "-am", "0.2.0: drop metrics")
    git(repo, "tag", "v0.2.0")

    result = api_diff(repo)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "v0.1.0 (version 0.1.0)" in result.stdout
    assert "QueueClient.metrics: Public object was removed" in result.stdout


def test_the_first_release_tag_alone_is_nothing_to_compare(repo: Path) -> None:
    without_snapshots(repo)
    set_version(repo, "0.1.0")
    git(repo, "commit", "-q", "-am", "0.1.0")
    git(repo, "tag", "v0.1.0")

    result = api_diff(repo)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no release tag (v*) other than v0.1.0" in result.stdout


def retype(path: Path, old: str, new: str) -> None:
    """Replace the one occurrence of `old` in the source file `path` by `new`."""
    source = path.read_text(encoding="utf-8")
    assert source.count(old) == 1, f"{old!r} occurs {source.count(old)} times in {path}"
    path.write_text(source.replace(old, new), encoding="utf-8")


@pytest.mark.parametrize(
    ("file", "old", "new", "reported"),
    [
        (
            "overlay/together_queue/_sync/client.py",
            "    ) -> QueueMetrics:",
            "    ) -> dict[str, int]:",
            "together_queue.QueueClient.metrics -> return: annotation changed: "
            "QueueMetrics -> dict[str, int]",
        ),
        (
            "overlay/together_queue/_sync/client.py",
            "        model: str,\n" + METRICS_OPTIONS,
            "        model: bytes,\n" + METRICS_OPTIONS,
            "together_queue.QueueClient.metrics(model): annotation changed: str -> bytes",
        ),
        (
            "overlay/together_queue/_models.py",
            "    retries: int = 0",
            "    retries: str = '0'",
            "together_queue.JobStatus.retries: annotation changed: int -> str",
        ),
        (
            "generated/together_queue_api/models/queue_job_status_response.py",
            "    retries: int | Unset = UNSET",
            "    retries: str | Unset = UNSET",
            "together_queue_api.models.QueueJobStatusResponse.retries: annotation changed: "
            "int | Unset -> str | Unset",
        ),
    ],
)
def test_a_retyped_public_object_fails_and_is_named(
    repo: Path, file: str, old: str, new: str, reported: str
) -> None:
    release_0_1_0(repo)
    retype(repo / file, old, new)

    result = api_diff(repo)

    assert result.returncode == 1, result.stdout + result.stderr
    assert reported in result.stdout
    assert "FAILED: breaking changes need a major version bump" in result.stdout


def test_an_unknown_ref_is_an_error(repo: Path) -> None:
    result = api_diff(repo, "v9.9.9")

    assert result.returncode == 1
    assert "v9.9.9" in result.stderr


def _declare(repo: Path, version: str, path: str, reason: str = "on purpose") -> None:
    """Append a declaration to the repository's own (which holds 0.2.0's real ones)."""
    declared = repo / "api/accepted-breaks.toml"
    with declared.open("a", encoding="utf-8") as handle:
        handle.write(f'\n[[break]]\nversion = "{version}"\npath = "{path}"\nreason = "{reason}"\n')


@pytest.mark.parametrize("version", [None, "0.3.0"])
def test_a_break_declared_for_the_next_release_is_listed_as_accepted(
    repo: Path, version: str | None
) -> None:
    # Declared for 0.3.0 while the tree still says 0.2.0 (work towards it), or at 0.3.0.
    remove_function(repo / "overlay/together_queue/_sync/client.py", "QueueClient.metrics")
    _declare(repo, "0.3.0", "together_queue.client.QueueClient.metrics", "replaced by clear")
    if version is not None:
        set_version(repo, version)

    result = api_diff(repo)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "api/public-api-0.2.0.json (version 0.2.0)" in result.stdout
    assert "~ together_queue.client.QueueClient.metrics" in result.stdout
    assert "replaced by clear" in result.stdout


@pytest.mark.parametrize(
    ("declared", "version"),
    [
        ("0.1.9", None),  # before the baseline release
        ("0.2.0", None),  # the baseline release itself: it shipped with metrics
        ("0.4.0", "0.3.0"),  # a release after the one being built
    ],
)
def test_a_break_declared_for_another_version_still_fails(
    repo: Path, declared: str, version: str | None
) -> None:
    remove_function(repo / "overlay/together_queue/_sync/client.py", "QueueClient.metrics")
    _declare(repo, declared, "together_queue.client.QueueClient.metrics")
    if version is not None:
        set_version(repo, version)

    result = api_diff(repo)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "- together_queue.client.QueueClient.metrics: Public object was removed" in (
        result.stdout
    )


def test_a_malformed_declaration_is_an_error_not_a_pass(repo: Path) -> None:
    (repo / "api/accepted-breaks.toml").write_text(
        '[[break]]\nversion = "0.2.0"\npath = "together_queue.client.QueueClient.metrics"\n'
    )
    set_version(repo, "0.2.0")

    result = api_diff(repo)

    assert result.returncode != 0
    assert "accepted-breaks.toml" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("file", "qualname", "breaks"),
    [
        # A submodule of the emulator (or the CLI) is how it works, not API.
        ("overlay/together_queue/emulator/tls.py", "write_self_signed", False),
        # What the emulator package exports is API, members included.
        ("overlay/together_queue/emulator/server.py", "EmulatorHandle.set_rate_limits", True),
    ],
)
def test_the_emulator_api_is_what_its_package_exports(
    repo: Path, file: str, qualname: str, breaks: bool
) -> None:
    rename_function(repo / file, qualname, "renamed")

    result = api_diff(repo)

    assert result.returncode == (1 if breaks else 0), result.stdout + result.stderr
    assert ("Public object was removed" in result.stdout) is breaks
