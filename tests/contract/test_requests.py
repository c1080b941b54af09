"""Every request the overlay sends, sync and async, conforms to openapi.yaml.

The clients talk HTTP to the emulator on loopback through a checking transport:
each request is validated (method, server and path, query parameters, security,
content type, body schema with undeclared properties refused) and each response
against the operation's declared response for its status. The `contract_recorder`
fixture fails the test at teardown on any violation; the tests here also assert
that what they meant to exercise was really checked.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import anyio
import httpx
import pytest

from tests.contract.params import API_KEY, FAST_POLL
from tests.support.contract import CheckingTransport, ContractRecorder
from tests.support.openapi_check import OpenAPIContract
from together_queue import JobRequest, QueueClient
from together_queue.emulator import EmulatorHandle

# A model with no in-process handler: its jobs stay pending until canceled.
PARKED = "parked"
PAYLOAD: dict[str, Any] = {"prompt": "hello", "nested": {"list": [1, 2.5, None, True]}, "n": 3}


def _operations(seen: Counter[tuple[str, int]]) -> set[str]:
    return {operation for operation, _ in seen}


def test_sync_client_requests_conform(
    emulator: EmulatorHandle, contract_checked_client: Any, contract_recorder: ContractRecorder
) -> None:
    client = contract_checked_client(emulator.url, api_key=API_KEY, poll=FAST_POLL)

    # submit: defaults, explicit priority, info; status through wait and directly.
    job = client.submit("echo", PAYLOAD)
    assert job.wait(timeout=10).outputs == PAYLOAD
    tagged = client.submit("echo", {"x": 1}, priority=-5, info={"tag": "contract", "n": [1]})
    assert client.wait(tagged, timeout=10).info["tag"] == "contract"
    assert client.status(job.request_id, model="echo").status == "done"
    assert client.run("echo", {"y": 2}, priority=9, timeout=10) == {"y": 2}

    # cancel: a pending job (200), then a finished one (409 with its status).
    parked = client.submit(PARKED, {"wait": True})
    assert client.cancel(parked.request_id, model=PARKED).canceled
    assert client.cancel(job.request_id, model="echo").status == "done"

    # metrics, clear, and the bulk helpers.
    assert client.metrics(PARKED).messages_waiting == 0
    client.submit(PARKED, {"clear": "me"})
    assert client.clear(PARKED).canceled_count == 1
    outcomes = client.submit_many([{"i": i} for i in range(3)], model="echo", concurrency=3)
    jobs = [outcome.unwrap() for outcome in outcomes]
    jobs.append(client.submit_many([JobRequest("echo", {"i": 9}, priority=2)])[0].unwrap())
    finals = client.wait_all(jobs, timeout=10, concurrency=2)
    assert [f.unwrap().status for f in finals] == ["done"] * 4

    assert contract_recorder.requests_checked >= 15
    assert contract_recorder.requests_checked == contract_recorder.responses_checked
    assert _operations(contract_recorder.seen) == {
        "submitQueueJob",
        "getQueueJobStatus",
        "cancelQueueJob",
        "getQueueMetrics",
        "clearQueue",
    }
    assert contract_recorder.seen[("cancelQueueJob", 409)] == 1


@pytest.mark.anyio
async def test_async_client_requests_conform(
    emulator: EmulatorHandle,
    contract_checked_async_client: Any,
    contract_recorder: ContractRecorder,
) -> None:
    client = contract_checked_async_client(emulator.url, api_key=API_KEY, poll=FAST_POLL)

    job = await client.submit("echo", PAYLOAD, priority=1, info={"tag": "async"})
    status = await job.wait(timeout=10)
    assert status.outputs == PAYLOAD
    assert (await client.status(job.request_id, model="echo")).info["tag"] == "async"

    parked = await client.submit(PARKED, {"wait": True})
    assert (await client.cancel(parked.request_id, model=PARKED)).canceled
    assert (await client.cancel(job.request_id, model="echo")).status == "done"
    assert (await client.metrics("echo")).messages_running == 0
    assert (await client.clear(PARKED)).canceled_count == 0

    # Several requests in flight at once through one checked transport.
    async with anyio.create_task_group() as tg:
        for i in range(4):
            tg.start_soon(client.run, "echo", {"i": i})
    outcomes = await client.submit_many([{"i": i} for i in range(3)], model="echo")
    finals = await client.wait_all([o.unwrap() for o in outcomes], timeout=10)
    assert [f.unwrap().status for f in finals] == ["done"] * 3

    assert contract_recorder.requests_checked >= 15
    assert contract_recorder.requests_checked == contract_recorder.responses_checked
    assert _operations(contract_recorder.seen) == {
        "submitQueueJob",
        "getQueueJobStatus",
        "cancelQueueJob",
        "getQueueMetrics",
        "clearQueue",
    }


def test_requests_on_an_emulator_without_keys_still_conform(
    queue_emulator_factory: Any,
) -> None:
    # The overlay sends no Authorization to a keyless loopback emulator: everything else
    # about the request must still conform (require_auth=False only forgives that).
    handle = queue_emulator_factory(models={"echo": "echo"})
    recorder = ContractRecorder(OpenAPIContract(require_auth=False))
    http = httpx.Client(transport=CheckingTransport(httpx.HTTPTransport(), recorder))
    with http, QueueClient(base_url=handle.url, http_client=http, poll=FAST_POLL) as client:
        assert client.run("echo", {"a": 1}, timeout=10) == {"a": 1}
    recorder.assert_clean()
    assert recorder.requests_checked >= 2
