"""Restart with a database file: every job and status survives; lapsed claims requeue."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx

from together_queue.emulator import start_emulator

from .conftest import Api
from .helpers import cancel, claims, jobs, metrics, retrieve, status, submit, update, wait_for


def test_restart_keeps_every_job_and_requeues_lapsed_claims(api: Api, tmp_path: Path) -> None:
    db = str(tmp_path / "queue.sqlite3")
    priorities = [0, 5, 0, 1, 0, 2]
    claim_timeout = 1.5  # long enough to outlast the first run, short enough to wait for
    with start_emulator(db=db, claim_timeout=claim_timeout) as first:
        client = api(first)
        ids = [
            submit(client, "m", {"i": i}, priority=p, info={"i": i})
            for i, p in enumerate(priorities)
        ]
        claimed = [retrieve(client, "m") for _ in range(3)]
        lapses_after = time.time() + claim_timeout  # the last claim was made before now
        assert [job["request_id"] for job in claimed if job] == [ids[1], ids[5], ids[3]]
        assert update(client, "m", ids[1], "done", payload={"out": 1}).status_code == 200
        assert update(client, "m", ids[5], "failed", info={"error": "bad"}).status_code == 200
        assert cancel(client, "m", ids[0]).status_code == 200
        assert metrics(client, "m") == (2, 1, 3)
        assert next(j for j in jobs(client, "m") if j["request_id"] == ids[3])["claim_expires_at"]
        before = {rid: status(client, "m", rid) for rid in ids}

    # The running job's claim lapses while the emulator is down.
    wait_for(lambda: time.time() > lapses_after, what="the claim to lapse")

    with start_emulator(db=db, claim_timeout=30.0) as second:
        client = api(second)
        after = {rid: status(client, "m", rid) for rid in ids}
        for rid in ids:
            if rid != ids[3]:
                assert after[rid] == before[rid]
        requeued = after[ids[3]]
        assert (requeued["status"], requeued["retries"]) == ("pending", 1)
        assert requeued["created_at"] == before[ids[3]]["created_at"]
        assert after[ids[1]]["outputs"] == {"out": 1}
        assert after[ids[5]]["info"] == {"i": 5, "error": "bad"}
        assert after[ids[0]]["status"] == "canceled"
        assert metrics(client, "m") == (3, 0, 3)
        newcomer = submit(client, "m", {"new": True}, priority=1)
        order = [job["request_id"] for job in (retrieve(client, "m") for _ in range(4)) if job]
        # Priority 1 first (the requeued job before the newcomer: FIFO), then the zeros.
        assert order == [ids[3], newcomer, ids[2], ids[4]]
        assert len(claims(client, "m")) == 3 + 4


def _counts(client: httpx.Client, model: str) -> tuple[int, int, int]:
    """(waiting, running, total) counted from the full job list, to check metrics against."""
    states = [job["status"] for job in jobs(client, model)]
    waiting, running = states.count("pending"), states.count("running")
    return waiting, running, waiting + running


def test_metrics_stay_exact_through_every_transition_and_a_restart(
    api: Api, tmp_path: Path
) -> None:
    db = str(tmp_path / "metrics.sqlite3")
    with start_emulator(db=db, claim_timeout=0.3, max_retries=1) as emulator:
        client = api(emulator)

        def check() -> None:
            for model in ("m", "other"):
                assert metrics(client, model) == _counts(client, model)

        ids = [submit(client, "m", {"i": i}) for i in range(6)]
        submit(client, "other", {})
        check()
        for _ in range(4):
            assert retrieve(client, "m") is not None
        check()
        assert update(client, "m", ids[0], "running", info={"p": 1}).status_code == 200
        assert update(client, "m", ids[0], "done", payload={}).status_code == 200
        assert update(client, "m", ids[1], "failed", info={"error": "x"}).status_code == 200
        assert cancel(client, "m", ids[5]).status_code == 200
        check()
        assert metrics(client, "m") == (1, 2, 3)
        # ids[2] and ids[3] lapse and requeue; claimed and lapsed again, they fail for good.
        wait_for(lambda: metrics(client, "m") == (3, 0, 3), timeout=5, what="the requeue")
        check()
        assert retrieve(client, "m") is not None and retrieve(client, "m") is not None
        wait_for(lambda: metrics(client, "m") == (1, 0, 1), timeout=5, what="the failures")
        assert [j["status"] for j in jobs(client, "m")][2:4] == ["failed", "failed"]
        check()

    # Counts written by an emulator without the count triggers must be rebuilt at open.
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("DROP TRIGGER jobs_count_insert")
        conn.execute("DROP TRIGGER jobs_count_update")
        conn.execute("UPDATE active_counts SET n = 99")
        conn.execute(
            "INSERT INTO jobs (request_id, model, priority, status, payload, info, created_at) "
            "VALUES ('old', 'm', 0, 'pending', '{}', '{}', 0)"
        )
    conn.close()
    with start_emulator(db=db) as emulator:
        client = api(emulator)
        assert metrics(client, "m") == _counts(client, "m")
        assert metrics(client, "other") == (1, 0, 1)
        assert retrieve(client, "m") is not None
        assert metrics(client, "m") == _counts(client, "m")
