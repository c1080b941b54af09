"""The session-wide switch (`-p tests.support.contract`) fails tests that break the spec.

An inner pytest run, in a subprocess so that its global httpx patches cannot leak
into this session, holds four small tests; the outcome of each is what the plugin
promises: an undeclared status fails the test at teardown, `contract_exempt` and a
ScriptedServer fixture exempt responses, and requests the overlay sends are checked
even when the server is a scripted one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

INNER_TESTS = textwrap.dedent(
    """
    from collections.abc import Iterator

    import httpx
    import pytest

    from tests.support.scripted_server import Reply, ScriptedServer, scripted_server
    from together_queue import QueueClient
    from together_queue_api.models import QueueJobRequest

    TEAPOT = Reply(418, {"code": "teapot"})


    @pytest.fixture
    def server() -> Iterator[ScriptedServer]:
        with scripted_server() as srv:
            yield srv


    def _get_status(url: str) -> int:
        query = {"request_id": "r", "model": "m"}
        return httpx.get(url + "/v1/queue/status", params=query).status_code


    def test_undeclared_status_fails() -> None:
        with scripted_server() as srv:  # not a fixture: not exempt
            srv.always("GET", "/v1/queue/status", TEAPOT)
            assert _get_status(srv.url) == 418


    @pytest.mark.contract_exempt("answers 418 on purpose")
    def test_marked_exempt() -> None:
        with scripted_server() as srv:
            srv.always("GET", "/v1/queue/status", TEAPOT)
            assert _get_status(srv.url) == 418


    def test_scripted_server_fixture_is_exempt(server: ScriptedServer) -> None:
        server.always("GET", "/v1/queue/status", TEAPOT)
        assert _get_status(server.url) == 418


    def test_overlay_requests_are_checked_anyway(
        server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        original = QueueJobRequest.to_dict

        def misspelled(self: QueueJobRequest) -> dict:
            out = original(self)
            out["priorty"] = out.pop("priority")
            return out

        monkeypatch.setattr(QueueJobRequest, "to_dict", misspelled)
        server.always("POST", "/v1/queue/submit", Reply(200, {"requestId": "r-1"}))
        with QueueClient(base_url=server.url) as client:
            assert client.submit("m", {"a": 1}).request_id == "r-1"
    """
)


def test_session_switch_fails_violating_tests_only(tmp_path: Path) -> None:
    (tmp_path / "test_inner.py").write_text(INNER_TESTS)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.support.contract",
            "-p",
            "no:cacheprovider",
            "-q",
            "-rA",
            str(tmp_path / "test_inner.py"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    # A violating test passes its call phase and errors at teardown: 4 passed, 2 errors.
    assert "4 passed, 2 errors" in out, out
    assert "ERROR test_inner.py::test_undeclared_status_fails" in out, out
    assert "status 418 is not declared for getQueueJobStatus" in out, out
    assert "ERROR test_inner.py::test_overlay_requests_are_checked_anyway" in out, out
    assert "'priorty' was unexpected" in out, out
    assert "ERROR test_inner.py::test_marked_exempt" not in out, out
    assert "ERROR test_inner.py::test_scripted_server_fixture_is_exempt" not in out, out
    assert "contract check: 1 overlay requests and 1 responses validated" in out, out
