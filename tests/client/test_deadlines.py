"""One deadline through sending: a wait's timeout bounds its retries and each attempt."""

from __future__ import annotations

import time

import pytest

from tests.client.conftest import FAST_POLL
from tests.support.scripted_server import Reply, ScriptedServer, status_body
from together_queue import (
    AsyncQueueClient,
    QueueClient,
    RateLimitError,
    WaitTimeout,
)

STATUS = ("GET", "/v1/queue/status")
# Generous bounds: the bugs these tests guard against overshot by 5-10 s.
SLACK = 2.0


def test_wait_does_not_sleep_through_a_retry_after_past_its_deadline(
    server: ScriptedServer,
) -> None:
    server.always(*STATUS, Reply(429, {"message": "slow down"}, headers={"Retry-After": "5"}))
    with QueueClient(base_url=server.url, poll=FAST_POLL) as client:
        started = time.monotonic()
        with pytest.raises(WaitTimeout) as info:
            client.job("r", model="m").wait(timeout=1)
        elapsed = time.monotonic() - started
    assert elapsed < 1 + SLACK
    # The 429's Retry-After (5 s) was never waited out: no retry was sent before the deadline.
    assert len(server.received(*STATUS)) == 1
    assert isinstance(info.value.__cause__, RateLimitError)


def test_wait_on_a_hung_server_ends_at_its_deadline(server: ScriptedServer) -> None:
    server.always(*STATUS, Reply(200, status_body(), delay=8))
    with QueueClient(base_url=server.url, timeout=3, poll=FAST_POLL) as client:
        started = time.monotonic()
        with pytest.raises(WaitTimeout):
            client.job("r", model="m").wait(timeout=1)
        assert time.monotonic() - started < 1 + SLACK


@pytest.mark.anyio
async def test_async_wait_on_a_hung_server_ends_at_its_deadline(server: ScriptedServer) -> None:
    server.always(*STATUS, Reply(200, status_body(), delay=8))
    async with AsyncQueueClient(base_url=server.url, timeout=3, poll=FAST_POLL) as client:
        started = time.monotonic()
        with pytest.raises(WaitTimeout):
            await client.job("r", model="m").wait(timeout=1)
        assert time.monotonic() - started < 1 + SLACK


def test_a_retry_after_longer_than_the_client_waits_raises_at_once(server: ScriptedServer) -> None:
    server.script(
        *STATUS, Reply(429, {}, headers={"Retry-After": "3600"}), Reply(200, status_body())
    )
    with QueueClient(base_url=server.url) as client:
        with pytest.raises(RateLimitError) as info:
            client.status("r", model="m")
    assert info.value.retry_after == 3600
    assert len(server.received(*STATUS)) == 1


def test_a_short_retry_after_is_waited_out_in_full(server: ScriptedServer) -> None:
    server.script(*STATUS, Reply(429, {}, headers={"Retry-After": "1"}), Reply(200, status_body()))
    with QueueClient(base_url=server.url) as client:
        assert client.status("r", model="m").status == "pending"
    first, second = server.received(*STATUS)
    assert second.at - first.at >= 0.9


def test_wait_within_its_deadline_still_succeeds(server: ScriptedServer) -> None:
    server.script(
        *STATUS,
        Reply(503, {}),
        Reply(200, status_body(status="running")),
        Reply(200, status_body(status="done", outputs={"ok": True})),
    )
    with QueueClient(base_url=server.url, poll=FAST_POLL) as client:
        final = client.job("r", model="m").wait(timeout=10)
    assert final.outputs == {"ok": True}
