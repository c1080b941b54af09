"""Claims: renewal by running updates, lapse -> retry at the same place -> failed after 3."""

from __future__ import annotations

import time

from .conftest import Api, Factory
from .helpers import claims, jobs, retrieve, status, submit, update, wait_status

SHORT_CLAIM = 0.2


def test_lapsed_claims_retry_then_fail_for_good(queue_emulator_factory: Factory, api: Api) -> None:
    client = api(queue_emulator_factory(claim_timeout=SHORT_CLAIM))
    rid = submit(client, "m", {"x": 1}, info={"owner": "me"})
    for attempt in range(4):
        job = retrieve(client, "m", timeout="5s")
        assert job is not None and job["request_id"] == rid
        assert job["retries"] == attempt
        # No update: the claim lapses.
        lapsed = wait_status(client, "m", rid, {"pending", "failed"})
        if attempt < 3:
            assert lapsed["status"] == "pending"
            assert lapsed["retries"] == attempt + 1
            assert "claimed_at" not in lapsed
    assert lapsed["status"] == "failed"
    assert lapsed["retries"] == 3
    assert "lapsed" in lapsed["info"]["error"]
    assert lapsed["info"]["owner"] == "me"
    assert "done_at" in lapsed
    assert len(claims(client, "m")) == 4
    assert retrieve(client, "m") is None


def test_lapsed_job_keeps_its_place_in_the_queue(queue_emulator_factory: Factory, api: Api) -> None:
    client = api(queue_emulator_factory(claim_timeout=SHORT_CLAIM))
    first = submit(client, "m", {"n": 1})
    second = submit(client, "m", {"n": 2})
    job = retrieve(client, "m")
    assert job is not None and job["request_id"] == first
    wait_status(client, "m", first, {"pending"})
    again = retrieve(client, "m")
    assert again is not None
    assert (again["request_id"], again["retries"]) == (first, 1)
    assert update(client, "m", first, "done", payload={}).status_code == 200
    last = retrieve(client, "m")
    assert last is not None and last["request_id"] == second


def test_update_from_a_lapsed_claim_is_refused(queue_emulator_factory: Factory, api: Api) -> None:
    # The second claim must outlive a few requests: a longer timeout than SHORT_CLAIM.
    client = api(queue_emulator_factory(claim_timeout=1.0))
    rid = submit(client, "m", {})
    stale = retrieve(client, "m")
    assert stale is not None
    wait_status(client, "m", rid, {"pending"})
    # Lapsed and not yet reclaimed: the job is pending, no update applies.
    response = update(client, "m", rid, "done", payload={"late": True})
    assert response.status_code == 409
    assert status(client, "m", rid)["status"] == "pending"
    fresh = retrieve(client, "m")
    assert fresh is not None and fresh["claim_id"] != stale["claim_id"]
    # Reclaimed by someone else: the old claim's update is refused and changes nothing.
    response = update(client, "m", rid, "done", payload={"late": True}, claim_id=stale["claim_id"])
    assert response.status_code == 409
    body = status(client, "m", rid)
    assert (body["status"], body["retries"]) == ("running", 1)
    response = update(client, "m", rid, "done", payload={"ok": 1}, claim_id=fresh["claim_id"])
    assert response.status_code == 200
    assert status(client, "m", rid)["outputs"] == {"ok": 1}


def test_running_updates_renew_the_claim(queue_emulator_factory: Factory, api: Api) -> None:
    claim_timeout = 0.5
    client = api(queue_emulator_factory(claim_timeout=claim_timeout))
    rid = submit(client, "m", {})
    job = retrieve(client, "m")
    assert job is not None
    claimed = time.monotonic()
    updates = 0
    # Heartbeats every 50 ms for three claim timeouts: the claim must never lapse.
    while time.monotonic() - claimed < 3 * claim_timeout and updates < 100:
        response = update(client, "m", rid, "running", info={"beat": updates})
        assert response.status_code == 200, response.text
        updates += 1
        time.sleep(0.05)
    body = status(client, "m", rid)
    assert (body["status"], body["retries"]) == ("running", 0)
    assert body["info"] == {"beat": updates - 1}
    assert jobs(client, "m")[0]["claim_count"] == 1
    assert update(client, "m", rid, "done", payload={"fine": True}).status_code == 200
