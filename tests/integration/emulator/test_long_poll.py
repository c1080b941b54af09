"""Long polls: hung-up workers get no job, requeues and submits wake waiters, shutdown answers."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import httpx
import pytest

from together_queue.emulator import EmulatorConfig, start_emulator
from together_queue.emulator.runtime import Runtime

from .conftest import Api, Factory
from .helpers import claims, retrieve, status, submit, wait_for

RETRIEVE = "/internal/v1/rabbitmq/retrieve"


def _waiters(client: httpx.Client, model: str) -> int:
    count: int = client.get("/_emulator/health").json()["waiters"].get(model, 0)
    return count


class _Poll:
    """One long poll in a thread; ``result`` is its ``data`` (or the exception it raised)."""

    def __init__(self, url: str, model: str, timeout: str) -> None:
        self.result: Any = "not answered"
        self.thread = threading.Thread(target=self._run, args=(url, model, timeout), daemon=True)
        self.thread.start()

    def _run(self, url: str, model: str, timeout: str) -> None:
        try:
            with httpx.Client(base_url=url, timeout=30, trust_env=False) as client:
                self.result = retrieve(client, model, timeout=timeout, hostname="poller")
        except BaseException as exc:
            self.result = exc

    def join(self, deadline: float) -> Any:
        self.thread.join(deadline)
        assert not self.thread.is_alive(), f"the long poll did not return within {deadline} s"
        return self.result


def test_a_worker_that_hangs_up_gets_no_job(queue_emulator_factory: Factory, api: Api) -> None:
    emulator = queue_emulator_factory(claim_timeout=1.0)
    client = api(emulator)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(
            emulator.url + RETRIEVE,
            params={"model": "m", "timeout": "20s", "hostname": "gone"},
            timeout=0.3,
            trust_env=False,
        )
    # The server notices the hang-up and stops waiting for a job on its behalf.
    wait_for(lambda: _waiters(client, "m") == 0, timeout=5, what="the abandoned poll to end")
    rid = submit(client, "m", {})
    body = status(client, "m", rid)
    assert (body["status"], body["retries"]) == ("pending", 0)
    assert claims(client, "m") == []
    job = retrieve(client, "m", hostname="real")
    assert job is not None and (job["request_id"], job["retries"]) == (rid, 0)
    assert [c["hostname"] for c in claims(client, "m")] == ["real"]


def test_a_lapsed_claim_wakes_a_waiting_poll(queue_emulator_factory: Factory, api: Api) -> None:
    emulator = queue_emulator_factory(claim_timeout=0.3)
    client = api(emulator)
    rid = submit(client, "m", {})
    first = retrieve(client, "m")
    assert first is not None and first["retries"] == 0  # and never updated: it lapses
    poll = _Poll(emulator.url, "m", "20s")
    # From here no request touches the store: only the sweeper can requeue the job,
    # and only the requeue listener can wake the poll before its 20 s are up.
    job = poll.join(5.0)
    assert isinstance(job, dict), job
    assert (job["request_id"], job["retries"]) == (rid, 1)


def test_shutdown_answers_waiting_polls_at_once(api: Api) -> None:
    with start_emulator() as emulator:
        client = api(emulator)
        poll = _Poll(emulator.url, "m", "20s")
        wait_for(lambda: _waiters(client, "m") == 1, timeout=5, what="the poll to wait")
        stopping = time.monotonic()
    assert poll.join(4.0 - (time.monotonic() - stopping)) is None


def test_a_submit_between_look_and_wait_is_not_missed() -> None:
    # Task order makes the interleaving exact: the poll runs until its first suspension,
    # then the submit runs. A poll that looked for a job before registering as a waiter
    # (and yielded in between) would sleep through the submit until its timeout.
    async def scenario() -> dict[str, Any]:
        runtime = Runtime(EmulatorConfig())
        try:
            await runtime.ensure_started()
            poll = asyncio.create_task(runtime.claim("m", "poller", 10.0))

            async def submitter() -> str:
                return runtime.submit("m", {}, priority=0, info=None).request_id

            submitted = asyncio.create_task(submitter())
            job = await asyncio.wait_for(poll, 2.0)
            assert job is not None
            return {"claimed": job.request_id, "submitted": await submitted}
        finally:
            await runtime.stop()

    outcome = asyncio.run(scenario())
    assert outcome["claimed"] == outcome["submitted"]
