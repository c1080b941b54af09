"""Where update_spec's document comes from: a URL (the published one by default) or a file.

Documents are served over HTTP on loopback from a temporary directory. The test that
reproduces openapi.yaml needs the real upstream document, found as the other
update_spec tests find it (`../shared` beside the clone), and skips without it.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.release.conftest import git, snapshot_repo
from tests.tools.test_update_spec import (
    COMMITTED_SPEC,
    ROOT,
    UPSTREAM,
    FakeRegen,
    Workspace,
    _synthetic,
    plain_workspace,
)

sys.path.insert(0, str(ROOT / "tools"))

import update_spec as us
import upstream


@pytest.fixture
def plain_ws(tmp_path: Path) -> Workspace:
    return plain_workspace(tmp_path)


class Served:
    """A directory served over HTTP on a free loopback port."""

    def __init__(self, directory: Path) -> None:
        handler = functools.partial(_QuietHandler, directory=str(directory))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.directory = directory
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, name: str) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}/{name}"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    directory = tmp_path / "served"
    directory.mkdir()
    server = Served(directory)
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
        server.thread.join(timeout=5)


def _publish(served: Served, name: str, doc: dict[str, Any]) -> tuple[str, bytes]:
    data = yaml.safe_dump(doc).encode()
    (served.directory / name).write_bytes(data)
    return served.url(name), data


def _record(ws: Workspace) -> dict[str, Any]:
    return tomllib.loads((ws.root / upstream.PROVENANCE).read_text(encoding="utf-8"))


def test_a_url_is_fetched_and_recorded_with_its_digest(
    served: Served, plain_ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    url, data = _publish(served, "openapi.yaml", _synthetic())

    assert plain_ws.run([url], FakeRegen(result=True)) == 0

    assert _record(plain_ws) == {"url": url, "sha256": upstream.digest(data)}
    assert f"spec/upstream.toml: {url}, sha256 {upstream.digest(data)}" in capsys.readouterr().out
    expected = us.build_from(us.parse_mapping(data, url), url, plain_ws.overlay)
    assert plain_ws.spec.read_bytes() == us.dump(expected).encode()


def test_without_a_source_the_published_document_is_fetched(
    served: Served, plain_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The published document's URL is written in one place: upstream.UPSTREAM_URL.
    url, data = _publish(served, "published.yaml", _synthetic())
    monkeypatch.setattr(upstream, "UPSTREAM_URL", url)

    assert plain_ws.run([], FakeRegen(result=True)) == 0

    assert _record(plain_ws) == {"url": url, "sha256": upstream.digest(data)}


def test_a_local_copy_of_the_recorded_document_keeps_its_url(
    served: Served, plain_ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, data = _publish(served, "openapi.yaml", _synthetic())
    assert plain_ws.run([url], FakeRegen()) == 0
    copy = tmp_path / "saved-offline.yaml"
    copy.write_bytes(data)
    recorded = (plain_ws.root / upstream.PROVENANCE).read_bytes()
    capsys.readouterr()

    assert plain_ws.run([str(copy)], FakeRegen()) == 0

    assert (plain_ws.root / upstream.PROVENANCE).read_bytes() == recorded
    assert capsys.readouterr().out == "No changes\n"


def test_another_local_document_is_recorded_by_file_name_and_digest(
    plain_ws: Workspace, tmp_path: Path
) -> None:
    doc = _synthetic()
    doc["info"]["version"] = "9.9.9"
    source = tmp_path / "edited.yaml"
    source.write_text(yaml.safe_dump(doc))

    assert plain_ws.run([str(source)], FakeRegen()) == 0

    assert _record(plain_ws) == {
        "file": "edited.yaml",
        "sha256": upstream.digest(source.read_bytes()),
    }


@pytest.mark.parametrize("missing", [True, False])
def test_a_url_that_cannot_be_fetched_is_one_line_and_touches_nothing(
    served: Served,
    plain_ws: Workspace,
    missing: bool,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if missing:
        url, expected = served.url("absent.yaml"), "HTTP 404"
    else:
        url, expected = served.url("openapi.yaml"), "offline? pass a local copy"
        served.httpd.shutdown()
        served.httpd.server_close()  # connection refused from now on
    before = plain_ws.snapshot()
    regen = FakeRegen()

    assert plain_ws.run([url], regen) == 1

    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot fetch {url}: ")
    assert expected in err
    assert err.count("\n") == 1
    assert plain_ws.snapshot() == before
    assert regen.calls == []


def test_the_committed_record_names_the_document_openapi_yaml_was_sliced_from() -> None:
    record = tomllib.loads((ROOT / upstream.PROVENANCE).read_text(encoding="utf-8"))

    assert record["url"] == upstream.UPSTREAM_URL
    if UPSTREAM.is_file():
        assert record["sha256"] == upstream.digest(UPSTREAM.read_bytes())


def test_the_regenerating_guide_from_a_clone_reproduces_openapi_yaml(
    served: Served, tmp_path: Path
) -> None:
    """A clone without ../shared, the upstream document given as a URL on loopback."""
    if not UPSTREAM.is_file():
        pytest.skip(f"upstream document not present at {UPSTREAM}")
    if shutil.which("openapi-python-client") is None:
        pytest.skip("openapi-python-client is not installed (requirements/codegen.txt)")
    clone = snapshot_repo(tmp_path / "clone")
    shutil.copyfile(UPSTREAM, served.directory / "openapi.yaml")
    url = served.url("openapi.yaml")

    result = subprocess.run(
        [sys.executable, "tools/update_spec.py", url],
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert (clone / "openapi.yaml").read_bytes() == COMMITTED_SPEC.read_bytes()
    # Only the record moved: the same bytes, fetched from another address.
    assert git(clone, "status", "--porcelain").splitlines() == [" M spec/upstream.toml"]
    record = tomllib.loads((clone / upstream.PROVENANCE).read_text(encoding="utf-8"))
    committed = tomllib.loads((ROOT / upstream.PROVENANCE).read_text(encoding="utf-8"))
    assert record == {"url": url, "sha256": committed["sha256"]}
