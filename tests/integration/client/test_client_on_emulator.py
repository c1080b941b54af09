"""The client against the real emulator over loopback HTTP: every operation, end to end."""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from together_queue import (
    AsyncQueueClient,
    AuthenticationError,
    JobCanceled,
    JobFailed,
    NotFoundError,
    PollPolicy,
    QueueClient,
    RequestTooLargeError,
    SubmitOutcomeUnknown,
)
from together_queue.emulator import EmulatorHandle

FAST = PollPolicy(initial=0.02, multiplier=1.5, max_interval=0.2)
Factory = Callable[..., EmulatorHandle]


def _jobs_held(emulator: EmulatorHandle, model: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{emulator.url}/_emulator/jobs", params={"model": model})
    response.raise_for_status()
    jobs: list[dict[str, Any]] = response.json()["jobs"]
    return jobs


@pytest.fixture
def client(queue_emulator: EmulatorHandle) -> Iterator[QueueClient]:
    with QueueClient(base_url=queue_emulator.url, poll=FAST) as c:
        yield c


def test_run_echo_returns_the_payload(client: QueueClient) -> None:
    assert client.run("echo", {"prompt": "hi", "n": [1, 2]}, timeout=30) == {
        "prompt": "hi",
        "n": [1, 2],
    }


def test_wait_reports_progress_of_a_sleeping_job(client: QueueClient) -> None:
    job = client.submit("sleep", {"seconds": 0.6}, info={"who": "test"})
    seen: list[tuple[str, float | None]] = []
    final = job.wait(timeout=30, on_update=lambda s: seen.append((s.status, s.progress)))
    assert final.status == "done"
    assert final.info["who"] == "test"
    assert final.created_at is not None
    assert final.claimed_at is not None
    assert final.done_at is not None
    assert final.created_at <= final.claimed_at <= final.done_at
    progress = [p for s, p in seen if s == "running" and p is not None]
    assert progress, f"no progress observed in {seen}"
    assert progress == sorted(progress)
    assert seen[-1][0] == "done"


def test_failing_model_raises_job_failed_with_its_message(client: QueueClient) -> None:
    job = client.submit("fail", {"message": "out of coffee"})
    with pytest.raises(JobFailed, match="out of coffee") as info:
        job.wait(timeout=30)
    assert info.value.status.status == "failed"
    assert info.value.status.retries == 0  # a job the model fails is not retried


def test_cancel_pending_then_running_then_unknown(client: QueueClient) -> None:
    # "idle" has no in-process worker: its jobs stay pending.
    job = client.submit("idle", {"x": 1})
    assert client.metrics("idle").messages_waiting == 1
    result = job.cancel()
    assert result.canceled
    assert job.status().status == "canceled"
    with pytest.raises(JobCanceled):
        job.wait(timeout=5)
    again = job.cancel()
    assert again.canceled  # still canceled: a second cancel is harmless
    done = client.submit("echo", {"y": 2})
    done.wait(timeout=30)
    late = done.cancel()
    assert not late.canceled
    assert late.status == "done"
    with pytest.raises(NotFoundError):
        client.cancel("no-such-request", model="echo")
    with pytest.raises(NotFoundError):
        client.status(done.request_id, model="some-other-model")


def test_metrics_count_waiting_jobs(client: QueueClient) -> None:
    before = client.metrics("idle-metrics")
    for i in range(3):
        client.submit("idle-metrics", {"i": i})
    after = client.metrics("idle-metrics")
    assert after.messages_waiting == before.messages_waiting + 3
    assert after.total_jobs == after.messages_waiting + after.messages_running


def test_bulk_submit_and_wait_all(client: QueueClient, queue_emulator: EmulatorHandle) -> None:
    payloads = [{"i": i} for i in range(120)]
    submitted = client.submit_many(payloads, model="echo", concurrency=8)
    assert all(o.ok for o in submitted)
    jobs = [o.unwrap() for o in submitted]
    finals = client.wait_all(jobs, timeout=60, concurrency=8)
    assert [o.unwrap().outputs for o in finals] == payloads
    assert len(_jobs_held(queue_emulator, "echo")) == 120


def test_a_job_resumes_in_another_client(queue_emulator: EmulatorHandle) -> None:
    with QueueClient(base_url=queue_emulator.url, poll=FAST) as first:
        saved = pickle.dumps(first.submit("echo", {"from": "elsewhere"}))
    with QueueClient(base_url=queue_emulator.url, poll=FAST) as second:
        assert pickle.loads(saved).bind(second).result(timeout=30) == {"from": "elsewhere"}


@pytest.mark.parametrize("fault", ["submit:500:next=1:after", "submit:drop:next=1:after"])
def test_a_fault_after_the_job_was_stored_creates_no_duplicate(
    client: QueueClient, queue_emulator: EmulatorHandle, fault: str
) -> None:
    queue_emulator.set_faults([fault])
    with pytest.raises(SubmitOutcomeUnknown):
        client.submit("idle-faults", {"once": True})
    assert len(_jobs_held(queue_emulator, "idle-faults")) == 1  # stored once, never resent


def test_429_before_the_job_is_stored_is_retried_once(
    client: QueueClient, queue_emulator: EmulatorHandle
) -> None:
    queue_emulator.set_faults(["submit:429:next=1:before:retry_after=0"])
    job = client.submit("idle-429", {"x": 1})
    held = _jobs_held(queue_emulator, "idle-429")
    assert [j["request_id"] for j in held] == [job.request_id]


def test_status_survives_dropped_connections_and_500s(
    client: QueueClient, queue_emulator: EmulatorHandle
) -> None:
    job = client.submit("echo", {"v": 1})
    job.wait(timeout=30)
    queue_emulator.set_faults(["status:drop:next=1", "status:500:next=1"])
    assert job.status().outputs == {"v": 1}


def test_api_keys_are_enforced(queue_emulator_factory: Factory) -> None:
    emulator = queue_emulator_factory(api_keys=("sk-right",), models={"echo": "echo"})
    with QueueClient(base_url=emulator.url, api_key="sk-right", poll=FAST) as good:
        assert good.run("echo", {"ok": 1}, timeout=30) == {"ok": 1}
    with QueueClient(base_url=emulator.url, api_key="sk-wrong") as bad:
        with pytest.raises(AuthenticationError) as info:
            bad.metrics("echo")
        assert "sk-wrong" not in str(info.value)
    with QueueClient(base_url=emulator.url) as anonymous, pytest.raises(AuthenticationError):
        anonymous.submit("echo", {})


def test_oversized_payload_is_rejected_by_the_service(queue_emulator_factory: Factory) -> None:
    emulator = queue_emulator_factory(max_body_bytes=2_000)
    with QueueClient(base_url=emulator.url) as client, pytest.raises(RequestTooLargeError):
        client.submit("echo", {"blob": "x" * 5_000})


@pytest.mark.anyio
async def test_async_client_end_to_end(queue_emulator: EmulatorHandle) -> None:
    async with AsyncQueueClient(base_url=queue_emulator.url, poll=FAST) as client:
        assert await client.run("echo", {"a": 1}, timeout=30) == {"a": 1}
        outcomes = await client.submit_many([{"i": i} for i in range(40)], model="echo")
        jobs = [o.unwrap() for o in outcomes]
        finished = [o async for o in client.as_completed(jobs, timeout=60, concurrency=8)]
        assert sorted(o.index for o in finished) == list(range(40))
        assert all(o.unwrap().outputs == {"i": o.index} for o in finished)
        with pytest.raises(JobFailed):
            await client.run("fail", {"message": "nope"}, timeout=30)


@pytest.mark.anyio
async def test_plugin_async_fixture(async_queue_client: AsyncQueueClient) -> None:
    assert await async_queue_client.run("echo", {"b": 2}, timeout=30) == {"b": 2}


def test_plugin_sync_fixture(queue_client: QueueClient) -> None:
    assert queue_client.run("echo", {"c": 3}, timeout=30) == {"c": 3}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
