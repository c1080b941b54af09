"""`release.py publish`: its refusals, and a true round trip through a real index on loopback."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from releasing import smoke
from releasing.project import DIST_NAME, ReleaseError, read_version

from tests.release.conftest import break_metrics, git

SERVER_START_DEADLINE = 30.0


def release(repo: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the snapshot's `tools/release.py` as `nox -s publish` does."""
    return subprocess.run(
        [sys.executable, str(repo / "tools" / "release.py"), *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def base_env() -> dict[str, str]:
    """The test's environment without any TWINE_* setting (never the real PyPI)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("TWINE_")}


@dataclass(frozen=True)
class Index:
    """A running pypiserver: where to upload, its simple API, its files, its one user."""

    url: str
    packages: Path
    username: str
    password: str

    @property
    def simple(self) -> str:
        """The simple-API root pip installs from."""
        return self.url + "/simple/"

    def env(self) -> dict[str, str]:
        """The TWINE_* settings that publish to this index."""
        return {
            **base_env(),
            "TWINE_REPOSITORY_URL": self.url + "/",
            "TWINE_USERNAME": self.username,
            "TWINE_PASSWORD": self.password,
        }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def index(tmp_path: Path) -> Iterator[Index]:
    """pypiserver on a loopback port; uploads need the user in its htpasswd file."""
    packages = tmp_path / "packages"
    packages.mkdir()
    username, password = "uploader", secrets.token_urlsafe(16)
    digest = base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(f"{username}:{{SHA}}{digest}\n")  # Apache's SHA-1 scheme, read by passlib
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "pypiserver.log").open("w")
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "pypiserver", "run", "--host", "127.0.0.1"),
            *("--port", str(port), "--passwords", str(htpasswd), "--authenticate", "update"),
            # Never redirect unknown projects to PyPI: this index answers for itself only.
            *("--disable-fallback", str(packages)),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + SERVER_START_DEADLINE
        while True:
            assert server.poll() is None, (tmp_path / "pypiserver.log").read_text()
            try:
                if httpx.get(url + "/health", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "pypiserver did not answer within 30 s"
            time.sleep(0.1)
        yield Index(url=url, packages=packages, username=username, password=password)
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
        log.close()


def install_from_index(python: Path, index_url: str, version: str, workdir: Path) -> None:
    """Install `together-queue==version` from `index_url` only, then its `[emulator]` deps.

    The package itself must come from `index_url` (checked in pip's install report), so a
    same-named project on another index cannot stand in for it.
    """
    report = workdir / "pip-report.json"
    requirement = f"{DIST_NAME}=={version}"
    smoke.pip_install(
        python, "--no-deps", "--index-url", index_url, "--report", str(report), requirement
    )
    items = json.loads(report.read_text(encoding="utf-8"))["install"]
    urls = [i["download_info"]["url"] for i in items if i["metadata"]["name"] == DIST_NAME]
    if len(urls) != 1 or urlsplit(urls[0])[:2] != urlsplit(index_url)[:2]:
        raise ReleaseError(f"{requirement} did not come from {index_url}: {urls}")
    # Already satisfied, so pip keeps the installed copy and only fetches the extra's deps.
    smoke.pip_install(python, f"{DIST_NAME}[emulator]=={version}")


def closed_index_env() -> dict[str, str]:
    """TWINE_* pointing at a loopback port nobody listens on: any network use fails."""
    return {**base_env(), "TWINE_REPOSITORY_URL": f"http://127.0.0.1:{_free_port()}/"}


def test_publish_refuses_an_untagged_head(repo: Path) -> None:
    version = read_version(repo)

    result = release(repo, "publish", env=closed_index_env())

    assert result.returncode == 2
    assert f"REFUSED: HEAD is not tagged v{version}" in result.stderr
    assert not (repo / "dist").exists()


def test_publish_refuses_an_api_break_without_a_major_bump(repo: Path) -> None:
    version_file = repo / "overlay/together_queue/_version.py"
    current = version_file.read_text()
    version_file.write_text('__version__ = "0.0.9"\n')
    git(repo, "commit", "-q", "-am", "0.0.9")
    git(repo, "tag", "v0.0.9")
    break_metrics(repo)
    version_file.write_text(current)
    git(repo, "commit", "-q", "-am", "the release, with a break")
    git(repo, "tag", f"v{read_version(repo)}")

    result = release(repo, "publish", env=closed_index_env())

    assert result.returncode == 2, result.stdout + result.stderr
    assert "QueueClient.metrics(model): annotation changed: str -> bytes" in result.stdout
    assert "REFUSED: api_diff found breaking changes" in result.stderr
    assert not (repo / "dist").exists()


def test_publish_refuses_without_an_explicit_repository_url(repo: Path) -> None:
    result = release(repo, "publish", env=base_env())

    assert result.returncode == 2
    assert "REFUSED: TWINE_REPOSITORY_URL is not set" in result.stderr
    assert not (repo / "dist").exists()


@pytest.mark.parametrize("change", ["untracked", "modified"])
def test_publish_refuses_a_dirty_tree(repo: Path, change: str) -> None:
    if change == "untracked":
        (repo / "notes.txt").write_text("scratch\n")
    else:
        (repo / "README.md").write_text("edited\n")
    # Nothing listens there: the refusal must come before any network use.
    env = {**base_env(), "TWINE_REPOSITORY_URL": f"http://127.0.0.1:{_free_port()}/"}

    result = release(repo, "publish", env=env)

    assert result.returncode == 2
    assert "REFUSED: the work tree is not clean" in result.stderr
    assert ("notes.txt" if change == "untracked" else "README.md") in result.stderr
    assert not (repo / "dist").exists()


def test_publish_refuses_a_version_without_release_notes(repo: Path) -> None:
    version = read_version(repo)
    changelog = repo / "CHANGELOG.md"
    changelog.write_text(changelog.read_text().replace(f"## [{version}]", "## [0.0.0-old]"))
    git(repo, "commit", "-q", "-am", "lose the notes")
    env = {**base_env(), "TWINE_REPOSITORY_URL": f"http://127.0.0.1:{_free_port()}/"}

    result = release(repo, "publish", env=env)

    assert result.returncode == 2
    assert f"REFUSED: no release notes: CHANGELOG.md has no section for version {version}" in (
        result.stderr
    )


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_publish_refuses_a_build_whose_checks_fail(repo: Path, index: Index) -> None:
    stray = repo / "overlay/together_queue/tests/test_stray.py"
    stray.parent.mkdir()
    stray.write_text("def test_nothing() -> None:\n    pass\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a test file inside the package")
    git(repo, "tag", f"v{read_version(repo)}")

    result = release(repo, "publish", env=index.env())

    assert result.returncode == 1, result.stdout + result.stderr
    assert "test file in wheel: together_queue/tests/test_stray.py" in result.stderr
    assert list(index.packages.iterdir()) == []


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_publish_round_trip_through_a_real_index(repo: Path, index: Index, tmp_path: Path) -> None:
    version = read_version(repo)
    git(repo, "tag", f"v{version}")
    files = [f"together_queue-{version}-py3-none-any.whl", f"together_queue-{version}.tar.gz"]
    anonymous_upload = httpx.post(index.url + "/", data={":action": "file_upload"}, timeout=10)
    assert anonymous_upload.status_code in {401, 403}  # so the upload below used our credentials

    first = release(repo, "publish", env=index.env())

    assert first.returncode == 0, first.stdout + first.stderr
    assert "smoke test passed" in first.stdout
    assert f"published together-queue {version}" in first.stdout
    assert sorted(p.name for p in index.packages.iterdir()) == files

    second = release(repo, "publish", env=index.env())

    assert second.returncode == 2
    assert f"REFUSED: together-queue {version} is already on {index.simple}" in second.stderr
    assert "-m build" not in second.stdout  # refused before building anything
    assert sorted(p.name for p in index.packages.iterdir()) == files

    work = tmp_path / "from-index"
    work.mkdir()
    python = smoke.create_venv(work / "venv")
    install_from_index(python, index.simple, version, work)
    smoke.run_smoke_test(python, version, work)
