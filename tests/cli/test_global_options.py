"""The global `--header` and `-v`/`-vv` options, against a server that records what it gets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.scripted_server import Reply, ScriptedServer, scripted_server, status_body

from .conftest import run_cli

STATUS = ("GET", "/v1/queue/status")
KEY = "sk-cli-verbose-key-314159"


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with scripted_server() as srv:
        yield srv


def test_headers_are_sent_with_every_request(server: ScriptedServer) -> None:
    server.always(*STATUS, Reply(200, status_body(status="done")))
    result = run_cli(
        "--header",
        "X-Team: research",
        "status",
        "r-1",
        "--model",
        "m",
        "--header",
        "X-Trace:  t-1 ",
        url=server.url,
    )
    assert result.returncode == 0, result.stderr
    (sent,) = server.received(*STATUS)
    assert (sent.headers["x-team"], sent.headers["x-trace"]) == ("research", "t-1")


@pytest.mark.parametrize(
    ("header", "says"),
    [("Authorization: Bearer sk-x", "--api-key"), ("no colon here", "'Name: value'")],
)
def test_a_refused_header_is_a_usage_error_and_sends_nothing(
    server: ScriptedServer, header: str, says: str
) -> None:
    result = run_cli("--header", header, "status", "r-1", "--model", "m", url=server.url)
    assert result.returncode == 2
    assert says in result.stderr
    assert "sk-x" not in result.stderr
    assert server.requests == []


def test_vv_logs_each_request_with_its_http_request_id_and_never_the_key(
    server: ScriptedServer,
) -> None:
    server.always(
        *STATUS, Reply(200, status_body(status="done"), headers={"x-request-id": "req_cli_1"})
    )
    result = run_cli(
        "-vv", "status", "r-1", "--model", "m", url=server.url, env={"TOGETHER_API_KEY": KEY}
    )
    assert result.returncode == 0, result.stderr
    assert "GET /queue/status -> 200" in result.stderr
    assert "http_request_id=req_cli_1" in result.stderr
    assert KEY not in result.stderr
    assert server.received(*STATUS)[0].headers["authorization"] == f"Bearer {KEY}"


def test_v_logs_retries_but_not_each_request(server: ScriptedServer) -> None:
    server.script(*STATUS, Reply(503, {"message": "busy"}), Reply(200, status_body()))
    result = run_cli("status", "r-1", "--model", "m", "-v", url=server.url)
    assert result.returncode == 0, result.stderr
    assert "retrying GET /queue/status" in result.stderr
    assert "after HTTP 503" in result.stderr
    assert " -> 200" not in result.stderr


def test_v_before_and_after_the_command_add_up(server: ScriptedServer) -> None:
    server.always(*STATUS, Reply(200, status_body(status="done")))
    result = run_cli("-v", "status", "r-1", "--model", "m", "-v", url=server.url)
    assert result.returncode == 0, result.stderr
    assert "GET /queue/status -> 200" in result.stderr  # -v -v is -vv
