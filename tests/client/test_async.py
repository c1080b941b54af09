"""The async twin: same vocabulary, same safety rules, over real HTTP."""

from __future__ import annotations

import inspect
import pickle

import httpx
import pytest

from tests.support.scripted_server import Reply, ScriptedServer, status_body
from together_queue import (
    AsyncJob,
    AsyncQueueClient,
    JobFailed,
    NotFoundError,
    QueueClient,
    SubmitOutcomeUnknown,
    WaitTimeout,
)

pytestmark = pytest.mark.anyio
SUBMIT = ("POST", "/v1/queue/submit")
STATUS = ("GET", "/v1/queue/status")


def _public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_") and name not in {"close", "aclose"}
    }


async def test_sync_and_async_clients_share_one_vocabulary() -> None:
    sync, async_ = _public_methods(QueueClient), _public_methods(AsyncQueueClient)
    assert sync.keys() == async_.keys()
    for name, signature in sync.items():
        assert list(signature.parameters) == list(async_[name].parameters), name
    assert set(_public_methods(AsyncJob)) == {"status", "cancel", "wait", "updates", "result"} | {
        "bind",
        "to_dict",
    }


async def test_submit_status_cancel_metrics(
    aclient: AsyncQueueClient, server: ScriptedServer
) -> None:
    server.script(*SUBMIT, Reply(200, {"requestId": "req-1"}))
    server.script(*STATUS, Reply(200, status_body(status="running", info={"progress": 0.2})))
    server.script("POST", "/v1/queue/cancel", Reply(409, {"status": "running"}))
    server.script(
        "GET",
        "/v1/queue/metrics",
        Reply(200, {"messages_waiting": 0, "messages_running": 1, "total_jobs": 1}),
    )
    job = await aclient.submit("m", {"x": 1}, priority=2)
    assert isinstance(job, AsyncJob)
    assert (await job.status()).progress == 0.2
    cancel = await job.cancel()
    assert not cancel.canceled
    assert cancel.status == "running"
    assert (await aclient.metrics("m")).messages_running == 1
    assert server.received(*SUBMIT)[0].json()["priority"] == 2


async def test_async_submit_is_never_resent_on_ambiguous_failure(
    aclient: AsyncQueueClient, server: ScriptedServer
) -> None:
    server.script(*SUBMIT, Reply(drop=True), Reply(200, {"requestId": "dup"}))
    with pytest.raises(SubmitOutcomeUnknown):
        await aclient.submit("m", {})
    assert len(server.received(*SUBMIT)) == 1


async def test_async_wait_run_and_failures(
    aclient: AsyncQueueClient, server: ScriptedServer
) -> None:
    server.script(*SUBMIT, Reply(200, {"requestId": "req-1"}))
    server.script(
        *STATUS,
        Reply(200, status_body(status="pending")),
        Reply(200, status_body(status="done", outputs={"y": 2})),
        Reply(200, status_body(status="failed", info={"error": "bad input"})),
    )
    updates: list[str] = []
    assert await aclient.run("m", {}, on_update=lambda s: updates.append(s.status)) == {"y": 2}
    assert updates == ["pending", "done"]
    with pytest.raises(JobFailed, match="bad input"):
        await aclient.job("req-1", model="m").result()


async def test_async_wait_timeout(aclient: AsyncQueueClient, server: ScriptedServer) -> None:
    server.always(*STATUS, Reply(200, status_body(status="pending")))
    with pytest.raises(WaitTimeout):
        await aclient.job("req-1", model="m").wait(timeout=0.1)


async def test_async_retries_status_and_maps_errors(server: ScriptedServer) -> None:
    server.script(*STATUS, Reply(503, {}), Reply(200, status_body()), Reply(404, {"message": "x"}))
    async with AsyncQueueClient(base_url=server.url) as client:
        assert (await client.status("req-1", model="m")).status == "pending"
        with pytest.raises(NotFoundError):
            await client.status("req-1", model="m")


async def test_async_job_pickles_as_identity() -> None:
    job = AsyncJob("req-1", model="m")
    assert pickle.loads(pickle.dumps(job)) == job


async def test_given_async_http_client_is_not_closed(server: ScriptedServer) -> None:
    given = httpx.AsyncClient()
    async with AsyncQueueClient(base_url=server.url, http_client=given):
        pass
    assert not given.is_closed
    await given.aclose()
