"""Leases for workers that send no claim id (Together's SDK): late updates and double runs.

Worker A claims a job with a 1 s lease and goes quiet; the lease lapses and worker B
claims the job again. A then reports, as Together's worker SDK would (no `claim_id`).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from together_queue.emulator import EmulatorHandle
from together_queue.emulator.store import JobStore

from .conftest import Factory
from .helpers import claims, status, submit, update, wait_status
from .sprocket_worker import SprocketLikeWorker

KEY = "K"
T = TypeVar("T")


def _sdk(worker: SprocketLikeWorker, step: Callable[[httpx.AsyncClient], Awaitable[T]]) -> T:
    """Run one step of `worker` with its own client (its headers, its TLS trust)."""

    async def run() -> T:
        async with worker._client() as client:
            return await step(client)

    return asyncio.run(run())


def _claim(worker: SprocketLikeWorker) -> dict[str, Any]:
    stop = threading.Event()
    timer = threading.Timer(10, stop.set)  # get_job polls until a job comes, or this
    timer.start()
    try:
        return _sdk(worker, lambda client: worker.get_job(client, stop))
    finally:
        timer.cancel()


def _report(worker: SprocketLikeWorker, rid: str, state: str, outputs: dict[str, Any]) -> bool:
    return _sdk(worker, lambda client: worker.update_job_status(client, rid, state, outputs))


def _setup(
    factory: Factory, monkeypatch: pytest.MonkeyPatch, version_a: str, version_b: str
) -> tuple[EmulatorHandle, httpx.Client, SprocketLikeWorker, SprocketLikeWorker]:
    emulator = factory(tls=True, api_keys=[KEY], claim_timeout=30)
    assert emulator.ca_file is not None
    monkeypatch.setenv("SSL_CERT_FILE", emulator.ca_file)
    base = emulator.url.removeprefix("https://")
    client = httpx.Client(
        base_url=emulator.url,
        verify=emulator.ssl_context(),
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=10,
    )

    def worker(version: str, lease: int) -> SprocketLikeWorker:
        return SprocketLikeWorker(
            base, "m", KEY, predict=dict, claim_timeout=lease, version=version, hostname="h"
        )

    return emulator, client, worker(version_a, 1), worker(version_b, 30)


def _lapse_and_reclaim(
    client: httpx.Client, first: SprocketLikeWorker, second: SprocketLikeWorker
) -> str:
    rid = submit(client, "m", {"n": 1})
    assert _claim(first)["request_id"] == rid
    wait_status(client, "m", rid, {"pending"})  # the 1 s lease lapsed
    assert _claim(second)["request_id"] == rid
    return rid


def test_an_update_with_a_lapsed_claims_headers_is_refused(
    queue_emulator_factory: Factory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="together_queue.emulator")
    _, client, old, new = _setup(queue_emulator_factory, monkeypatch, "1.0", "2.0")
    with client:
        rid = _lapse_and_reclaim(client, old, new)
        assert not _report(old, rid, "done", {"by": "old"})
        assert len(old.failures) == 3 and all("409" in f for f in old.failures), old.failures
        assert status(client, "m", rid)["status"] == "running"
        assert _report(new, rid, "done", {"by": "new"})
        body = status(client, "m", rid)
        assert (body["status"], body["outputs"]) == ("done", {"by": "new"})
        assert any("double run" in warning for warning in body["warnings"])
        first, second = claims(client, "m")
        assert first["lapsed_at"] is not None and second["lapsed_at"] is None
        assert (first["refused_updates"], second["refused_updates"]) == (3, 0)
        assert first["double_run"] is None
        assert "lapsed claim 1" in second["double_run"]
    logged = [r for r in caplog.records if r.name == "together_queue.emulator"]
    assert [r.levelno for r in logged if "double run" in r.getMessage()] == [logging.WARNING]
    refused = [r for r in logged if "refused the 'done' update of " + rid in r.getMessage()]
    assert len(refused) == 3 and {r.levelno for r in refused} == {logging.DEBUG}


def test_an_update_that_cannot_be_told_apart_is_shown_as_a_double_run(
    queue_emulator_factory: Factory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Two replicas of one deployment: the same version, the same User-Agent.
    _, client, old, new = _setup(queue_emulator_factory, monkeypatch, "1.0", "1.0")
    with client:
        rid = _lapse_and_reclaim(client, old, new)
        # The emulator cannot tell who sent it: applied (the first result wins) ...
        assert _report(old, rid, "done", {"by": "old"})
        # ... and nothing overwrites it later.
        assert not _report(new, rid, "done", {"by": "new"})
        body = status(client, "m", rid)
        assert (body["status"], body["outputs"]) == ("done", {"by": "old"})
        (warning,) = [w for w in body["warnings"] if w.startswith("double run")]
        assert "may have run twice" in warning
        first, second = claims(client, "m")
        assert first["double_run"] is None
        assert "cannot tell" in second["double_run"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [rid in r.getMessage() and "double run" in r.getMessage() for r in warnings] == [True]


def test_a_single_claim_updated_without_claim_id_is_no_double_run(
    queue_emulator_factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, client, worker, _ = _setup(queue_emulator_factory, monkeypatch, "1.0", "1.0")
    worker.claim_timeout = 30
    with client:
        rid = submit(client, "m", {})
        assert _claim(worker)["request_id"] == rid
        assert _report(worker, rid, "running", {})
        assert _report(worker, rid, "done", {"ok": True})
        assert "warnings" not in status(client, "m", rid)
        (claim,) = claims(client, "m")
        assert (claim["double_run"], claim["refused_updates"]) == (None, 0)


def test_a_lapsed_worker_cannot_replace_the_files_of_a_finished_job(
    queue_emulator_factory: Factory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _, client, old, new = _setup(queue_emulator_factory, monkeypatch, "1.0", "2.0")
    picture = tmp_path / "out.png"
    with client:
        rid = _lapse_and_reclaim(client, old, new)
        name = f"{rid}-out.png"
        # The lapsed worker got an upload URL while the job still ran.
        late_url = client.post("/v1/storage/upload-request", json={"filename": name}).json()
        picture.write_bytes(b"new")
        url = _sdk(new, lambda http: new.upload_file(http, rid, picture))
        assert _report(new, rid, "done", {"image": url})
        # The job is done: its file is final, by a new URL or an old one.
        again = client.post("/v1/storage/upload-request", json={"filename": name})
        assert (again.status_code, again.json()["code"]) == (409, "job_finished")
        put = client.put(late_url["upload_url"]["url"], content=b"old")
        assert (put.status_code, put.json()["code"]) == (409, "job_finished")
        got = client.get(f"/v1/storage/{name}", follow_redirects=True)
        assert got.content == b"new"
        # Other names are not a job's files: they stay writable.
        other = client.post("/v1/storage/upload-request", json={"filename": "notes.txt"})
        assert other.status_code == 200


def test_a_lapsed_worker_cannot_upload_over_the_holders_files(
    queue_emulator_factory: Factory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _, client, old, new = _setup(queue_emulator_factory, monkeypatch, "1.0", "2.0")
    picture = tmp_path / "out.png"
    picture.write_bytes(b"new")
    with client:
        rid = submit(client, "m", {})
        assert _claim(old)["request_id"] == rid
        # While it held the job, the old worker got an upload URL.
        asked = _sdk(
            old,
            lambda http: http.post(
                old.api_base + "/v1/storage/upload-request", json={"filename": f"{rid}-out.png"}
            ),
        )
        early_url = asked.json()["upload_url"]["url"]
        wait_status(client, "m", rid, {"pending"})
        assert _claim(new)["request_id"] == rid
        _sdk(new, lambda http: new.upload_file(http, rid, picture))
        assert new.failures == []
        # The old worker's headers match only its lapsed claim: both ways in are refused.
        again = _sdk(
            old,
            lambda http: http.post(
                old.api_base + "/v1/storage/upload-request", json={"filename": f"{rid}-out.png"}
            ),
        )
        assert again.status_code == 409 and again.json()["code"] == "job_not_claimed"
        put = _sdk(old, lambda http: http.put(early_url, content=b"old"))
        assert put.status_code == 409 and put.json()["code"] == "job_not_claimed"
        got = client.get(f"/v1/storage/{rid}-out.png", follow_redirects=True)
        assert got.content == b"new"
        first, second = claims(client, "m")
        assert first["refused_updates"] == 2  # the upload request and the PUT
        assert "upload of" in second["double_run"]


def test_a_late_update_naming_a_lapsed_claim_is_recorded(
    queue_emulator_factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator = queue_emulator_factory(claim_timeout=0.5)
    with httpx.Client(base_url=emulator.url, timeout=10) as client:
        rid = submit(client, "m", {})
        stale = client.get("/internal/v1/queue/retrieve", params={"model": "m"}).json()["data"]
        wait_status(client, "m", rid, {"pending"})
        fresh = client.get("/internal/v1/queue/retrieve", params={"model": "m"}).json()["data"]
        late = update(client, "m", rid, "done", payload={}, claim_id=stale["claim_id"])
        assert late.status_code == 409
        first, second = claims(client, "m")
        assert first["refused_updates"] == 1
        assert "the worker of claim 1" in second["double_run"]
        kept = update(client, "m", rid, "done", payload={"ok": 1}, claim_id=fresh["claim_id"])
        assert kept.status_code == 200


def test_a_version_2_database_gains_the_lease_records(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    JobStore(str(db)).close()
    conn = sqlite3.connect(db)
    conn.executescript(
        "DROP TABLE claims; CREATE TABLE claims (n INTEGER PRIMARY KEY AUTOINCREMENT, "
        "seq INTEGER NOT NULL, request_id TEXT NOT NULL, model TEXT NOT NULL, "
        "priority INTEGER NOT NULL, retries INTEGER NOT NULL, hostname TEXT NOT NULL, "
        "claim_id TEXT NOT NULL, claimed_at REAL NOT NULL, claim_timeout REAL, "
        "worker_version TEXT, user_agent TEXT, idle_time TEXT); PRAGMA user_version=2;"
    )
    conn.close()
    now = [1000.0]
    jobs = JobStore(str(db), clock=lambda: now[0])
    try:
        job = jobs.submit("m", {})
        assert jobs.claim("m", "h", 1.0) is not None
        now[0] += 2
        jobs.sweep()
        (claim,) = jobs.claims("m")
        assert (claim.lapsed_at, claim.refused_updates, claim.double_run) == (1002.0, 0, None)
        assert jobs.get(job.request_id, "m").status == "pending"
    finally:
        jobs.close()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
    conn.close()
