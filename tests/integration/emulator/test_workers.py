"""In-process workers: heartbeats keep long jobs claimed; a stuck sync handler holds no stop."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from together_queue.emulator import start_emulator

from . import user_handlers
from .conftest import Api, Factory
from .helpers import claims, jobs, submit, wait_for, wait_status

MODULE = "tests.integration.emulator.user_handlers"


def test_heartbeat_keeps_a_long_job_claimed(queue_emulator_factory: Factory, api: Api) -> None:
    claim_timeout = 0.3
    emulator = queue_emulator_factory(
        models={"slow": f"{MODULE}:outlast_claim"}, workers=1, claim_timeout=claim_timeout
    )
    client = api(emulator)
    rid = submit(client, "slow", {"seconds": 3 * claim_timeout})
    body = wait_status(client, "slow", rid, {"done", "failed"})
    assert (body["status"], body["retries"]) == ("done", 0)
    assert body["outputs"] == {"slept": 3 * claim_timeout}
    assert [c["request_id"] for c in claims(client, "slow")] == [rid]
    assert jobs(client, "slow")[0]["claim_count"] == 1


@pytest.fixture
def blocked_handler() -> Iterator[None]:
    user_handlers.RELEASE.clear()
    user_handlers.STARTED.clear()
    try:
        yield
    finally:
        user_handlers.RELEASE.set()  # let the handler's daemon thread end


@pytest.mark.usefixtures("blocked_handler")
def test_stop_does_not_wait_for_a_blocked_sync_handler(api: Api) -> None:
    with start_emulator(models={"stuck": f"{MODULE}:block_until_released"}, workers=1) as emulator:
        client = api(emulator)
        rid = submit(client, "stuck", {})
        wait_status(client, "stuck", rid, {"running"})
        wait_for(user_handlers.STARTED.is_set, timeout=5, what="the handler to run")
        stopping = time.monotonic()
    # Without the fix the stop waits for the handler's thread (forever, bounded by the
    # 15 s stop deadline, which then raises).
    assert time.monotonic() - stopping < 5.0
    assert not user_handlers.RELEASE.is_set()
