"""Retries: safe calls are retried, a submit is never sent twice unless the caller opts in."""

from __future__ import annotations

import socket

import pytest

from tests.support.scripted_server import Reply, ScriptedServer, status_body
from together_queue import (
    APIConnectionError,
    APITimeoutError,
    QueueClient,
    RateLimitError,
    ServerError,
    SubmitOutcomeUnknown,
)

SUBMIT = ("POST", "/v1/queue/submit")
STATUS = ("GET", "/v1/queue/status")
OK_SUBMIT = Reply(200, {"requestId": "req-1"})


def _client(server: ScriptedServer, **kwargs: object) -> QueueClient:
    return QueueClient(base_url=server.url, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "failure",
    [
        Reply(500, {"message": "stored, then crashed"}),
        Reply(503, "unavailable"),
        Reply(drop=True),
    ],
    ids=["500", "503", "dropped"],
)
def test_ambiguous_submit_failure_is_not_resent(server: ScriptedServer, failure: Reply) -> None:
    server.script(*SUBMIT, failure, OK_SUBMIT)
    with _client(server, max_retries=3) as client, pytest.raises(SubmitOutcomeUnknown) as info:
        client.submit("m", {"a": 1})
    assert len(server.received(*SUBMIT)) == 1
    assert "may or may not exist" in str(info.value)
    assert info.value.model == "m" and info.value.__cause__ is not None


def test_submit_read_timeout_is_not_resent(server: ScriptedServer) -> None:
    server.script(*SUBMIT, Reply(200, {"requestId": "late"}, delay=0.5), OK_SUBMIT)
    with _client(server, timeout=0.1, max_retries=3) as client:
        with pytest.raises(SubmitOutcomeUnknown, match="ReadTimeout"):
            client.submit("m", {})
    assert len(server.received(*SUBMIT)) == 1


def test_opted_in_submit_retries_are_resent(server: ScriptedServer) -> None:
    server.script(*SUBMIT, Reply(500, {}), Reply(drop=True), OK_SUBMIT)
    with _client(server, max_retries=2, retry_submits=True) as client:
        assert client.submit("m", {}).request_id == "req-1"
    assert len(server.received(*SUBMIT)) == 3


def test_submit_is_retried_after_429_honouring_retry_after(server: ScriptedServer) -> None:
    server.script(*SUBMIT, Reply(429, {"message": "slow down"}, {"Retry-After": "1"}), OK_SUBMIT)
    with _client(server) as client:
        assert client.submit("m", {}).request_id == "req-1"
    first, second = server.received(*SUBMIT)
    assert second.at - first.at >= 0.9  # waited as told, not the (patched) tiny backoff


def test_429_retries_are_bounded(server: ScriptedServer) -> None:
    server.always(*SUBMIT, Reply(429, {"message": "slow down"}, {"Retry-After": "0"}))
    with _client(server, max_retries=2) as client, pytest.raises(RateLimitError):
        client.submit("m", {})
    assert len(server.received(*SUBMIT)) == 3


def test_submit_that_never_connected_is_retried_then_reported() -> None:
    with socket.socket() as sock:  # a port nobody listens on: connection refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with QueueClient(base_url=f"http://127.0.0.1:{port}", max_retries=2) as client:
        with pytest.raises(APIConnectionError, match="ConnectError") as info:
            client.submit("m", {})
    assert not isinstance(info.value, SubmitOutcomeUnknown)


@pytest.mark.parametrize(
    "failure",
    [Reply(500, {}), Reply(502, "bad gateway"), Reply(429, {}), Reply(drop=True)],
    ids=["500", "502", "429", "dropped"],
)
def test_status_is_retried_on_transient_failures(server: ScriptedServer, failure: Reply) -> None:
    server.script(*STATUS, failure, Reply(200, status_body()))
    with _client(server) as client:
        assert client.status("req-1", model="m").status == "pending"
    assert len(server.received(*STATUS)) == 2


def test_slow_status_is_retried_then_times_out(server: ScriptedServer) -> None:
    server.always(*STATUS, Reply(200, status_body(), delay=0.4))
    with _client(server, timeout=0.1, max_retries=1) as client:
        with pytest.raises(APITimeoutError, match="timed out"):
            client.status("req-1", model="m")
    assert len(server.received(*STATUS)) == 2


def test_cancel_and_metrics_are_retried(server: ScriptedServer) -> None:
    server.script("POST", "/v1/queue/cancel", Reply(503, {}), Reply(200, {"status": "canceled"}))
    server.script(
        "GET",
        "/v1/queue/metrics",
        Reply(drop=True),
        Reply(200, {"messages_waiting": 0, "messages_running": 0, "total_jobs": 0}),
    )
    with _client(server) as client:
        assert client.cancel("r", model="m").canceled
        assert client.metrics("m").total_jobs == 0


def test_retries_stop_at_max_retries(server: ScriptedServer) -> None:
    server.always(*STATUS, Reply(500, {"message": "down"}))
    with _client(server, max_retries=3) as client, pytest.raises(ServerError, match="down"):
        client.status("r", model="m")
    assert len(server.received(*STATUS)) == 4


def test_client_errors_are_not_retried(server: ScriptedServer) -> None:
    server.always(*STATUS, Reply(404, {"message": "unknown"}))
    with _client(server, max_retries=3) as client, pytest.raises(Exception):
        client.status("r", model="m")
    assert len(server.received(*STATUS)) == 1
