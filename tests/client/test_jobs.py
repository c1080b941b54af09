"""Job handles and waiting: polling, callbacks, deadlines, outcomes, persistence."""

from __future__ import annotations

import json
import pickle

import pytest

from tests.support.scripted_server import Reply, ScriptedServer, status_body
from together_queue import (
    ConfigurationError,
    Job,
    JobCanceled,
    JobFailed,
    JobStatus,
    QueueClient,
    ServerError,
    WaitTimeout,
)

STATUS = ("GET", "/v1/queue/status")


def test_wait_reports_each_change_once_and_returns_the_final_status(
    client: QueueClient, server: ScriptedServer
) -> None:
    server.script(
        *STATUS,
        Reply(200, status_body(status="pending")),
        Reply(200, status_body(status="pending")),
        Reply(200, status_body(status="running", info={"progress": 0.5})),
        Reply(200, status_body(status="running", info={"progress": 0.5})),
        Reply(200, status_body(status="running", info={"progress": 0.9})),
        Reply(200, status_body(status="done", outputs={"ok": True})),
    )
    seen: list[tuple[str, float | None]] = []
    final = client.job("req-1", model="m").wait(
        timeout=10, on_update=lambda s: seen.append((s.status, s.progress))
    )
    assert final.outputs == {"ok": True}
    assert seen == [("pending", None), ("running", 0.5), ("running", 0.9), ("done", None)]
    assert len(server.received(*STATUS)) == 6


def test_wait_keeps_polling_through_an_unknown_status(
    client: QueueClient, server: ScriptedServer
) -> None:
    server.script(
        *STATUS,
        Reply(200, status_body(status="paused")),
        Reply(200, status_body(status="done", outputs={"v": 1})),
    )
    seen: list[str] = []
    job = client.job("req-1", model="m")
    assert job.wait(timeout=10, on_update=lambda s: seen.append(s.status))
    assert seen == ["paused", "done"]


def test_wait_timeout_carries_the_last_status(client: QueueClient, server: ScriptedServer) -> None:
    server.always(*STATUS, Reply(200, status_body(status="running", info={"step": 1})))
    with pytest.raises(WaitTimeout) as info:
        client.job("req-1", model="m").wait(timeout=0.2)
    assert isinstance(info.value, TimeoutError)
    assert info.value.last_status is not None and info.value.last_status.info == {"step": 1}


def test_failed_and_canceled_jobs_raise_with_their_status(
    client: QueueClient, server: ScriptedServer
) -> None:
    server.script(
        *STATUS,
        Reply(200, status_body(status="failed", info={"error": "model crashed"})),
        Reply(200, status_body(status="canceled")),
        Reply(200, status_body(status="failed")),
    )
    job = client.job("req-1", model="m")
    with pytest.raises(JobFailed, match="model crashed") as failed:
        job.result()
    assert failed.value.status.status == "failed"
    with pytest.raises(JobCanceled):
        job.wait()
    assert job.wait(raise_on_failure=False).status == "failed"


def test_wait_rides_out_transient_errors(client: QueueClient, server: ScriptedServer) -> None:
    fail = Reply(500, {"message": "blip"})
    server.script(*STATUS, fail, fail, fail, Reply(200, status_body(status="done")))
    quick = client.with_options(max_retries=0)
    assert quick.job("req-1", model="m").wait(timeout=10).status == "done"


def test_wait_gives_up_after_too_many_errors_in_a_row(
    client: QueueClient, server: ScriptedServer
) -> None:
    server.always(*STATUS, Reply(500, {"message": "down for good"}))
    with pytest.raises(ServerError, match="down for good"):
        client.with_options(max_retries=0).job("req-1", model="m").wait(timeout=10)
    assert len(server.received(*STATUS)) == client.poll_policy.max_consecutive_errors + 1


def test_wait_does_not_hide_a_not_found(client: QueueClient, server: ScriptedServer) -> None:
    server.always(*STATUS, Reply(404, {"message": "no such job"}))
    with pytest.raises(Exception, match="no such job"):
        client.job("req-1", model="m").wait(timeout=10)
    assert len(server.received(*STATUS)) == 1


def test_job_pickles_and_serialises_as_model_and_request_id(
    client: QueueClient, server: ScriptedServer
) -> None:
    job = client.job("req-1", model="m")
    revived = pickle.loads(pickle.dumps(job))
    assert revived == job and revived.to_dict() == {"model": "m", "request_id": "req-1"}
    assert b"sk-test-secret" not in pickle.dumps(job)
    with pytest.raises(ConfigurationError, match="bind"):
        revived.status()
    server.script(*STATUS, Reply(200, status_body(status="running")))
    from_json = Job.from_dict(json.loads(json.dumps(job.to_dict())))
    assert from_json.bind(client).status().status == "running"
    assert {job, revived, from_json} == {job}


def test_run_submits_and_returns_outputs(client: QueueClient, server: ScriptedServer) -> None:
    server.script("POST", "/v1/queue/submit", Reply(200, {"requestId": "req-9"}))
    server.script(
        *STATUS,
        Reply(200, status_body("req-9", status="running")),
        Reply(200, status_body("req-9", status="done", outputs={"answer": 42})),
    )
    assert client.run("m", {"q": "?"}, timeout=10) == {"answer": 42}


def test_job_status_value_object_is_frozen() -> None:
    status = JobStatus(request_id="r", model="m", status="done")
    with pytest.raises(AttributeError):
        status.status = "failed"  # type: ignore[misc]
