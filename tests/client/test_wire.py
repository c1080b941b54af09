"""What the client sends, and how it reads what comes back (scripted server on loopback)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from tests.support.scripted_server import Reply, ScriptedServer, status_body
from together_queue import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    QueueClient,
    RateLimitError,
    RequestTooLargeError,
    ResponseValidationError,
    ServerError,
    SubmitOutcomeUnknown,
)


def test_submit_sends_the_spec_request_and_returns_a_handle(
    client: QueueClient, server: ScriptedServer
) -> None:
    server.script("POST", "/v1/queue/submit", Reply(200, {"requestId": "req-42"}))
    job = client.submit("my-model", {"prompt": "hi"}, priority=5, info={"tag": "t"})
    assert (job.request_id, job.model) == ("req-42", "my-model")
    sent = server.received("POST", "/v1/queue/submit")[0]
    assert sent.json() == {
        "model": "my-model",
        "payload": {"prompt": "hi"},
        "priority": 5,
        "info": {"tag": "t"},
    }
    assert sent.headers["content-type"] == "application/json"


def test_submit_without_info_omits_it(client: QueueClient, server: ScriptedServer) -> None:
    server.script("POST", "/v1/queue/submit", Reply(200, {"requestId": "r"}))
    client.submit("m", {})
    assert server.requests[0].json() == {"model": "m", "payload": {}, "priority": 0}


def test_status_is_parsed_into_an_aware_value_object(
    client: QueueClient, server: ScriptedServer
) -> None:
    body = status_body(
        "req-1",
        "m",
        "done",
        outputs={"text": "ok"},
        inputs={"prompt": "hi"},
        info={"progress": 1.0},
        priority=3,
        retries=1,
        warnings=["old model"],
        created_at="2026-11-29T08:00:00Z",
        claimed_at="2026-11-29T08:00:01.5+00:00",
        done_at="2026-11-29T08:00:02",  # no offset: read as UTC
        future_field={"x": 1},
    )
    server.script("GET", "/v1/queue/status", Reply(200, body))
    status = client.status("req-1", model="m")
    assert server.requests[0].query == {"request_id": ["req-1"], "model": ["m"]}
    assert status.status == "done" and status.is_terminal and status.succeeded
    assert status.outputs == {"text": "ok"} and status.inputs == {"prompt": "hi"}
    assert (status.priority, status.retries, status.warnings) == (3, 1, ("old model",))
    assert status.created_at == dt.datetime(2026, 11, 29, 8, 0, 0, tzinfo=dt.UTC)
    assert status.claimed_at == dt.datetime(2026, 11, 29, 8, 0, 1, 500000, tzinfo=dt.UTC)
    assert status.done_at is not None and status.done_at.tzinfo is not None
    assert status.extra == {"future_field": {"x": 1}}


def test_unknown_status_from_a_newer_server_is_exposed_not_fatal(
    client: QueueClient, server: ScriptedServer
) -> None:
    server.script("GET", "/v1/queue/status", Reply(200, status_body(status="paused")))
    status = client.status("req-1", model="m")
    assert status.status == "paused"
    assert not status.is_known and not status.is_terminal


@pytest.mark.parametrize(
    ("code", "exc"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (404, NotFoundError),
        (413, RequestTooLargeError),
        (500, ServerError),
    ],
)
def test_error_statuses_become_typed_errors_with_queue_error_fields(
    server: ScriptedServer, code: int, exc: type[APIStatusError]
) -> None:
    error = {"code": "c", "message": "went wrong", "param": "model"}
    error["type"] = "invalid_request_error"
    server.always("GET", "/v1/queue/status", Reply(code, error))
    with QueueClient(base_url=server.url, max_retries=0) as client:
        with pytest.raises(exc) as info:
            client.status("req-1", model="m")
    err = info.value
    assert err.status_code == code
    assert (err.code, err.message, err.param, err.type) == (
        "c",
        "went wrong",
        "model",
        "invalid_request_error",
    )
    assert "went wrong" in str(err) and err.body
    assert err.url.endswith("/v1/queue/status")


def test_error_with_a_non_json_body_keeps_status_and_text(
    client: QueueClient, server: ScriptedServer
) -> None:
    server.always("GET", "/v1/queue/metrics", Reply(502, "<html>bad gateway</html>"))
    with pytest.raises(ServerError) as info:
        client.with_options(max_retries=0).metrics("m")
    assert info.value.status_code == 502 and "bad gateway" in info.value.body
    assert info.value.message is None


def test_rate_limit_error_exposes_retry_after(server: ScriptedServer) -> None:
    reply = Reply(429, {"message": "slow down"}, {"Retry-After": "7"})
    server.always("GET", "/v1/queue/metrics", reply)
    with QueueClient(base_url=server.url, max_retries=0) as client:
        with pytest.raises(RateLimitError) as info:
            client.metrics("m")
    assert info.value.retry_after == 7.0


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("not json at all", "not JSON"),
        ([1, 2], "JSON object"),
        ({"model": "m", "status": "done"}, "request_id"),
        (status_body(priority="high"), "priority"),
        (status_body(info=["not", "an", "object"]), "body does not match"),
        (status_body(created_at="yesterday"), "body does not match"),
        ({**status_body(), "status": 7}, "status"),
    ],
)
def test_a_body_that_violates_the_spec_is_a_typed_error(
    client: QueueClient, server: ScriptedServer, body: object, fragment: str
) -> None:
    server.script("GET", "/v1/queue/status", Reply(200, body))
    with pytest.raises(ResponseValidationError, match=fragment) as info:
        client.status("req-1", model="m")
    assert info.value.status_code == 200


def test_cancel_tells_canceled_from_already_running(
    client: QueueClient, server: ScriptedServer
) -> None:
    server.script(
        "POST",
        "/v1/queue/cancel",
        Reply(200, {"status": "canceled"}),
        Reply(409, {"status": "running"}),
        Reply(409, {"status": "canceled"}),
        Reply(409, {"status": "archived"}),
    )
    first = client.cancel("r1", model="m")
    second = client.cancel("r2", model="m")
    third = client.cancel("r3", model="m")
    fourth = client.cancel("r4", model="m")
    assert (first.canceled, first.status) == (True, "canceled")
    assert (second.canceled, second.status) == (False, "running")
    assert third.canceled  # canceled by an earlier call: still canceled
    assert (fourth.canceled, fourth.status) == (False, "archived")
    assert server.requests[0].json() == {"model": "m", "request_id": "r1"}


def test_cancel_of_an_unknown_job_is_not_found(client: QueueClient, server: ScriptedServer) -> None:
    server.script("POST", "/v1/queue/cancel", Reply(404, {"message": "unknown request"}))
    with pytest.raises(NotFoundError):
        client.cancel("nope", model="m")


def test_conflict_error_class_exists_for_409_elsewhere(server: ScriptedServer) -> None:
    server.script("GET", "/v1/queue/status", Reply(409, {"message": "conflict"}))
    with QueueClient(base_url=server.url, max_retries=0) as client:
        with pytest.raises(ConflictError):
            client.status("r", model="m")


def test_metrics(client: QueueClient, server: ScriptedServer) -> None:
    server.script(
        "GET",
        "/v1/queue/metrics",
        Reply(200, {"messages_waiting": 3, "messages_running": 1, "total_jobs": 4}),
    )
    metrics = client.metrics("m")
    assert (metrics.model, metrics.messages_waiting, metrics.messages_running) == ("m", 3, 1)
    assert metrics.total_jobs == 4
    assert server.requests[0].query == {"model": ["m"]}


def test_submit_answer_without_request_id_is_a_typed_error(
    client: QueueClient, server: ScriptedServer
) -> None:
    server.script(
        "POST",
        "/v1/queue/submit",
        Reply(200, {}),
        Reply(200, {"error": {"message": "quota exceeded", "code": "quota"}}),
    )
    # Unreadable: the job may exist, so the outcome is unknown (and it was not resent).
    with pytest.raises(SubmitOutcomeUnknown) as unknown:
        client.submit("m", {})
    assert isinstance(unknown.value.__cause__, ResponseValidationError)
    assert "requestId" in str(unknown.value.__cause__)
    # A readable refusal in a 200 is the service saying no: an error, not an unknown.
    with pytest.raises(APIStatusError, match="quota exceeded"):
        client.submit("m", {})
    assert len(server.received("POST", "/v1/queue/submit")) == 2


@pytest.mark.parametrize(
    ("call", "exc", "fragment"),
    [
        (lambda c: c.submit("", {}), ValueError, "model"),
        (lambda c: c.submit(3, {}), TypeError, "model"),
        (lambda c: c.submit("m", [1]), TypeError, "payload"),
        (lambda c: c.submit("m", {"x": {1, 2}}), ValueError, "payload"),
        (lambda c: c.submit("m", {1: "x"}), TypeError, "payload"),
        (lambda c: c.submit("m", {}, priority=True), TypeError, "priority"),
        (lambda c: c.submit("m", {}, priority="1"), TypeError, "priority"),
        (lambda c: c.submit("m", {}, priority=2**63), ValueError, "priority"),
        (lambda c: c.submit("m", {}, priority=-(2**63) - 1), ValueError, "priority"),
        (lambda c: c.submit("m", {}, info=[("a", 1)]), TypeError, "info"),
        (lambda c: c.submit("m", {}, info={"n": float("nan")}), ValueError, "info"),
        (lambda c: c.submit("m", {"x": b"bytes"}, info={"ok": 1}), ValueError, "payload"),
        # A lone surrogate has no UTF-8 form: refused here, not deep inside httpx.
        (lambda c: c.submit("m", {"x": "\ud800"}), ValueError, "payload"),
        (lambda c: c.cancel("r", model="m\udfff"), ValueError, "model"),
        (lambda c: c.status("", model="m"), ValueError, "request_id"),
        (lambda c: c.status("r", model=None), TypeError, "model"),
        (lambda c: c.cancel(None, model="m"), TypeError, "request_id"),
        (lambda c: c.metrics(""), ValueError, "model"),
        (lambda c: c.submit_many([{}], model="m", concurrency=0), ValueError, "concurrency"),
    ],
)
def test_bad_arguments_fail_before_any_io(
    client: QueueClient,
    server: ScriptedServer,
    call: Callable[[QueueClient], object],
    exc: type[Exception],
    fragment: str,
) -> None:
    with pytest.raises(exc, match=fragment):
        call(client)
    assert server.requests == []
