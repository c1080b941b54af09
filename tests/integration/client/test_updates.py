"""`job.updates()` and `cancel_on_timeout`, sync and async, against the emulator."""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Callable, Iterator

import pytest

from tests.integration.client import progress_handlers
from together_queue import AsyncQueueClient, JobStatus, PollPolicy, QueueClient, WaitTimeout
from together_queue.emulator import EmulatorHandle

FAST = PollPolicy(initial=0.02, multiplier=1.5, max_interval=0.1)
Factory = Callable[..., EmulatorHandle]
STEPPED = "tests.integration.client.progress_handlers:stepped"


@pytest.fixture
def stepped(queue_emulator_factory: Factory) -> EmulatorHandle:
    """An emulator whose model `stepped` reports 0.25, 0.5, 0.75 as the test releases them."""
    return queue_emulator_factory(models={"stepped": STEPPED, "echo": "echo"})


@pytest.fixture
def gate() -> Iterator[str]:
    """A fresh set of gates for `stepped`; opened at the end so that no handler is left."""
    name = uuid.uuid4().hex
    progress_handlers.GATES[name] = [threading.Event() for _ in progress_handlers.STEPS]
    yield name
    for event in progress_handlers.GATES.pop(name):
        event.set()


def _release_after_seeing(gate: str, status: JobStatus) -> None:
    """Open the gate of a step once the test has seen it, so that every step is seen."""
    if status.progress in progress_handlers.STEPS:
        progress_handlers.GATES[gate][progress_handlers.STEPS.index(status.progress)].set()


def _check(seen: list[JobStatus]) -> None:
    progress = [s.progress for s in seen if s.status == "running" and s.progress is not None]
    assert progress == list(progress_handlers.STEPS)
    assert seen[-1].status == "done" and seen[-1].outputs == {"steps": 3}
    assert all(not s.is_terminal for s in seen[:-1])
    pairs = itertools.pairwise(seen)
    assert all((a.status, a.info) != (b.status, b.info) for a, b in pairs)  # changes only


def test_updates_yields_each_change_in_order_and_ends_with_the_final_status(
    stepped: EmulatorHandle, gate: str
) -> None:
    with QueueClient(api_key="", base_url=stepped.url, poll=FAST) as client:
        job = client.submit("stepped", {"gate": gate})
        seen: list[JobStatus] = []
        for status in job.updates(timeout=60):
            seen.append(status)
            _release_after_seeing(gate, status)
    _check(seen)


@pytest.mark.anyio
async def test_updates_yields_each_change_in_order_async(
    stepped: EmulatorHandle, gate: str
) -> None:
    async with AsyncQueueClient(api_key="", base_url=stepped.url, poll=FAST) as client:
        job = await client.submit("stepped", {"gate": gate})
        seen: list[JobStatus] = []
        async for status in job.updates(timeout=60):
            seen.append(status)
            _release_after_seeing(gate, status)
    _check(seen)


def test_updates_raises_wait_timeout_carrying_the_job(stepped: EmulatorHandle) -> None:
    with QueueClient(api_key="", base_url=stepped.url, poll=FAST) as client:
        job = client.submit("idle", {})  # no worker: it stays pending
        seen: list[JobStatus] = []

        def follow() -> None:
            seen.extend(job.updates(timeout=0.3))

        with pytest.raises(WaitTimeout) as info:
            follow()
    assert [s.status for s in seen] == ["pending"]
    assert info.value.job == job


def test_run_with_cancel_on_timeout_leaves_the_job_canceled(stepped: EmulatorHandle) -> None:
    with QueueClient(api_key="", base_url=stepped.url, poll=FAST) as client:
        with pytest.raises(WaitTimeout) as info:
            client.run("idle", {"x": 1}, timeout=1, cancel_on_timeout=True)
        job = info.value.job
        assert job is not None and job.model == "idle"
        assert "cancel_on_timeout: the job is canceled" in getattr(info.value, "__notes__", [])
        assert client.status(job.request_id, model="idle").status == "canceled"
        # Without it, a timed-out wait leaves the job alone.
        waited = client.submit("idle", {"x": 2})
        with pytest.raises(WaitTimeout) as plain:
            waited.wait(timeout=0.2)
        assert plain.value.job == waited
        assert waited.status().status == "pending"


@pytest.mark.anyio
async def test_wait_with_cancel_on_timeout_leaves_the_job_canceled_async(
    stepped: EmulatorHandle,
) -> None:
    async with AsyncQueueClient(api_key="", base_url=stepped.url, poll=FAST) as client:
        with pytest.raises(WaitTimeout) as info:
            await client.run("idle", {"x": 1}, timeout=1, cancel_on_timeout=True)
        assert info.value.job is not None
        assert (await info.value.job.status()).status == "canceled"  # type: ignore[misc]
        job = await client.submit("idle", {"x": 2})
        with pytest.raises(WaitTimeout):
            await job.wait(timeout=0.2, cancel_on_timeout=True)
        assert (await job.status()).status == "canceled"
