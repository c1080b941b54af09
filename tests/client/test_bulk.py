"""Bulk helpers: every item gets an outcome, concurrency is bounded, order is kept."""

from __future__ import annotations

import threading

import pytest

from tests.support.scripted_server import Reply, ScriptedServer, status_body
from together_queue import (
    AsyncQueueClient,
    Job,
    JobRequest,
    NotFoundError,
    QueueClient,
    SubmitOutcomeUnknown,
)

SUBMIT = ("POST", "/v1/queue/submit")
STATUS = ("GET", "/v1/queue/status")


def test_submit_many_keeps_every_outcome_in_input_order(
    client: QueueClient, server: ScriptedServer
) -> None:
    server.always(*SUBMIT, Reply(200, {"requestId": "same-id-for-all"}))
    items: list[object] = [
        {"n": 0},
        JobRequest("other-model", {"n": 1}, priority=9),
        {"n": float("nan")},  # not JSON: fails alone, before any I/O
        {"n": 3},
    ]
    outcomes = client.submit_many(items, model="m", concurrency=3)  # type: ignore[arg-type]
    assert [o.index for o in outcomes] == [0, 1, 2, 3]
    assert [o.ok for o in outcomes] == [True, True, False, True]
    assert isinstance(outcomes[2].error, ValueError)
    assert outcomes[1].unwrap().model == "other-model"
    bodies = sorted((r.json()["model"], r.json()["payload"]["n"]) for r in server.received(*SUBMIT))
    assert bodies == [("m", 0), ("m", 3), ("other-model", 1)]


def test_submit_many_reports_an_ambiguous_submit_without_resending(
    client: QueueClient, server: ScriptedServer
) -> None:
    server.script(*SUBMIT, Reply(500, {}))
    server.always(*SUBMIT, Reply(200, {"requestId": "ok"}))
    outcomes = client.submit_many([{"i": i} for i in range(5)], model="m", concurrency=1)
    assert isinstance(outcomes[0].error, SubmitOutcomeUnknown)
    assert all(o.ok for o in outcomes[1:])
    assert len(server.received(*SUBMIT)) == 5


def test_submit_many_without_a_model_raises_once_before_sending(
    client: QueueClient, server: ScriptedServer
) -> None:
    # Issue 16 item 16: one TypeError, not one per item, and nothing sent.
    server.always(*SUBMIT, Reply(200, {"requestId": "r"}))
    with pytest.raises(TypeError, match="model="):
        client.submit_many([{"x": n} for n in range(5)])
    with pytest.raises(TypeError, match="model="):
        client.submit_iter({"x": n} for n in range(5))
    assert server.received(*SUBMIT) == []


def test_submit_many_bounds_concurrency(client: QueueClient, server: ScriptedServer) -> None:
    server.always(*SUBMIT, Reply(200, {"requestId": "r"}, delay=0.02))
    peak = 0
    active = 0
    lock = threading.Lock()
    original = client._send

    def counting_send(call, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal peak, active
        with lock:
            active += 1
            peak = max(peak, active)
        try:
            return original(call, **kwargs)
        finally:
            with lock:
                active -= 1

    client._send = counting_send  # type: ignore[method-assign]
    outcomes = client.submit_many(({"i": i} for i in range(20)), model="m", concurrency=4)
    assert len(outcomes) == 20
    assert all(o.ok for o in outcomes)
    assert 1 < peak <= 4


def test_wait_all_returns_every_final_status_and_errors_in_order(
    client: QueueClient, server: ScriptedServer
) -> None:
    # One status path serves all jobs: replies come in request order, so give each
    # poll a terminal answer and check that every job got exactly one outcome.
    server.script(
        *STATUS,
        Reply(200, status_body("a", status="done", outputs={"v": 1})),
        Reply(200, status_body("b", status="failed", info={"error": "x"})),
        Reply(404, {"message": "gone"}),
    )
    jobs = [client.job(rid, model="m") for rid in ("a", "b", "c")]
    outcomes = client.wait_all(jobs, timeout=10, concurrency=1)
    assert [o.index for o in outcomes] == [0, 1, 2]
    assert [o.item for o in outcomes] == jobs
    assert outcomes[0].unwrap().status == "done"
    assert outcomes[1].unwrap().status == "failed"  # a failed job is a value, not an error
    assert isinstance(outcomes[2].error, NotFoundError)


def test_as_completed_yields_as_jobs_finish_and_times_out_the_rest(
    client: QueueClient, server: ScriptedServer
) -> None:
    server.script(*STATUS, Reply(200, status_body("a", status="done")))
    server.always(*STATUS, Reply(200, status_body("b", status="running")))
    jobs = [client.job("a", model="m"), client.job("b", model="m")]
    seen: list[tuple[Job, str]] = []
    stream = client.as_completed(
        jobs, timeout=0.3, concurrency=1, on_update=lambda j, s: seen.append((j, s.status))
    )
    first, second = list(stream)
    assert first.index == 0
    assert first.ok
    assert second.index == 1
    assert type(second.error).__name__ == "WaitTimeout"
    assert (jobs[1], "running") in seen


@pytest.mark.anyio
async def test_async_bulk(server: ScriptedServer) -> None:
    server.always(*SUBMIT, Reply(200, {"requestId": "r"}))
    server.always(*STATUS, Reply(200, status_body("r", status="done", outputs={"ok": 1})))
    async with AsyncQueueClient(base_url=server.url) as client:
        submitted = await client.submit_many([{"i": i} for i in range(10)], model="m")
        assert all(o.ok for o in submitted)
        jobs = [o.unwrap() for o in submitted]
        finals = await client.wait_all(jobs, timeout=10, concurrency=3)
        assert [o.unwrap().outputs for o in finals] == [{"ok": 1}] * 10
        streamed = [o.index async for o in client.as_completed(jobs[:3], timeout=10)]
        assert sorted(streamed) == [0, 1, 2]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
