"""JobStore directly: the claim query's index and restart rules under a controlled clock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from together_queue.emulator.store import (
    _TRIM_UPDATES_SQL,
    KEPT_UPDATES,
    JobNotFound,
    JobStore,
)


def test_next_claim_uses_the_pending_index_without_sorting() -> None:
    store = JobStore()
    plan = " | ".join(store.explain_next_claim("m"))
    assert "jobs_pending" in plan
    assert "TEMP B-TREE" not in plan  # ORDER BY is served by the index: O(log n) per claim
    store.close()


def test_restart_requeues_only_claims_that_lapsed(tmp_path: Path) -> None:
    now = [1000.0]
    path = str(tmp_path / "q.sqlite3")
    store = JobStore(path, clock=lambda: now[0])
    lapsing = store.submit("m", {"n": 1})
    holding = store.submit("m", {"n": 2})
    assert store.claim("m", "w", claim_timeout=5.0) == store.get(lapsing.request_id, "m")
    now[0] += 4.0
    assert store.claim("m", "w", claim_timeout=30.0) is not None
    store.close()

    now[0] += 2.0  # the first claim (5 s) lapsed while closed; the second (30 s) did not
    store = JobStore(path, clock=lambda: now[0])
    first = store.get(lapsing.request_id, "m")
    second = store.get(holding.request_id, "m")
    assert (first.status, first.retries) == ("pending", 1)
    assert (second.status, second.retries) == ("running", 0)
    assert store.metrics("m") == (1, 1)
    store.close()


def test_a_job_fails_for_good_after_max_retries() -> None:
    now = [0.0]
    store = JobStore(max_retries=2, clock=lambda: now[0])
    job = store.submit("m", {})
    for _ in range(3):
        assert store.claim("m", "w", claim_timeout=1.0) is not None
        now[0] += 2.0
        store.sweep()
    final = store.get(job.request_id, "m")
    assert (final.status, final.retries) == ("failed", 2)
    assert "failed for good after 2 retries" in final.info["error"]
    assert store.claim("m", "w", claim_timeout=1.0) is None
    store.close()


def test_a_refused_operation_keeps_the_sweep_before_it() -> None:
    now = [1000.0]
    store = JobStore(clock=lambda: now[0])
    woken: list[str] = []
    store.add_requeue_listener(woken.append)
    job = store.submit("m", {})
    assert store.claim("m", "w", claim_timeout=1.0) is not None
    now[0] += 2.0
    # The refused cancel's transaction sweeps the lapsed claim first: that part stands,
    # and the waiting polls hear of it.
    with pytest.raises(JobNotFound):
        store.cancel("no-such-job", "m")
    assert woken == ["m"]
    requeued = store.get(job.request_id, "m")
    assert (requeued.status, requeued.retries) == ("pending", 1)
    assert woken == ["m"]  # swept once, not again by the read
    store.close()


def test_a_new_database_file_is_the_owners_only(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    store = JobStore(str(path))
    store.submit("m", {"secret": "payload"})
    for name in ("q.sqlite3", "q.sqlite3-wal", "q.sqlite3-shm"):
        mode = (tmp_path / name).stat().st_mode & 0o777
        assert mode == 0o600, f"{name}: {oct(mode)}"
    store.close()


def test_an_existing_database_file_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    JobStore(str(path)).close()
    path.chmod(0o640)
    JobStore(str(path)).close()
    assert path.stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize(
    ("info", "warnings"), [(None, ()), ({"a": {"b": [1, "é"]}}, ("unknown field 'x' ignored",))]
)
def test_a_submitted_job_is_what_a_read_gives(
    info: dict[str, Any] | None, warnings: tuple[str, ...]
) -> None:
    # submit builds its answer from what it stored, without reading the row back.
    store = JobStore(clock=lambda: 1234.5)
    store.submit("m", {"first": True})
    job = store.submit("m", {"n": [1, 2]}, priority=-3, info=info, warnings=warnings)
    assert job == store.get(job.request_id, "m")
    assert (job.seq, job.info, job.created_at) == (2, info or {}, 1234.5)
    store.close()


def test_sqlites_memory_name_makes_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = JobStore(":memory:")
    job = store.submit("m", {"n": 1})
    assert store.get(job.request_id, "m") == job
    store.close()
    assert list(tmp_path.iterdir()) == []


def test_a_job_keeps_its_last_updates_only_and_others_keep_theirs() -> None:
    store = JobStore()
    busy, quiet = store.submit("m", {"n": 1}), store.submit("m", {"n": 2})
    for _ in range(2):
        assert store.claim("m", "w", claim_timeout=60.0) is not None
    extra = 50
    for i in range(KEPT_UPDATES + extra):
        store.update(busy.request_id, "m", "running", info={"i": i}, claim_timeout=60.0)
    for i in range(3):
        store.update(quiet.request_id, "m", "running", info={"i": i}, claim_timeout=60.0)
    kept = store.updates_of(busy.seq, limit=10 * KEPT_UPDATES)
    assert [u["info"]["i"] for u in kept] == list(range(extra, KEPT_UPDATES + extra))
    assert [u["info"]["i"] for u in store.updates_of(quiet.seq)] == [0, 1, 2]
    # The trim walks the job's own index entries, never the whole table.
    plan = store._conn.execute(
        "EXPLAIN QUERY PLAN " + _TRIM_UPDATES_SQL, (busy.seq, busy.seq, KEPT_UPDATES)
    ).fetchall()
    steps = [row[-1] for row in plan]
    assert all("updates_seq" in step for step in steps if "updates" in step), steps
    assert not any("TEMP B-TREE" in step for step in steps), steps
    store.close()
