"""The worker protocol as Together's SDK (sprocket 0.1.4) speaks it: paths, leases, headers."""

from __future__ import annotations

import asyncio
import math
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from together_queue.emulator import EmulatorHandle
from together_queue.emulator.config import DEFAULT_CLAIM_TIMEOUT, EmulatorConfig
from together_queue.emulator.store import JobStore

from .conftest import Api, Factory
from .helpers import claims, jobs, status, submit, update, wait_for, wait_status
from .sprocket_worker import OLD_RETRIEVE_PATH, RETRIEVE_PATH, SprocketLikeWorker, WorkerThread


def _retrieve(client: Any, path: str, model: str, **params: Any) -> Any:
    return client.get(path, params={"model": model, "timeout": "0s", **params})


@pytest.mark.parametrize("path", [RETRIEVE_PATH, OLD_RETRIEVE_PATH])
def test_both_retrieve_paths_hand_out_jobs(
    path: str, queue_emulator_factory: Factory, api: Api
) -> None:
    client = api(queue_emulator_factory())
    rid = submit(client, "m", {"x": 1})
    response = _retrieve(client, path, "m", hostname="h")
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    # What the SDK reads: data truthy, then data["request_id"] and data["payload"].
    assert (data["request_id"], data["payload"]) == (rid, {"x": 1})
    assert _retrieve(client, path, "m").json() == {"data": None}


@pytest.mark.parametrize("bad", ["0", "-1", "nan", "inf", "-inf", "abc", "", "1e999"])
def test_a_bad_claim_timeout_is_a_400_naming_it(
    bad: str, queue_emulator_factory: Factory, api: Api
) -> None:
    client = api(queue_emulator_factory())
    submit(client, "m", {})
    response = _retrieve(client, RETRIEVE_PATH, "m", claim_timeout=bad)
    assert response.status_code == 400, response.text
    assert response.json()["param"] == "claim_timeout"
    assert status(client, "m", jobs(client, "m")[0]["request_id"])["status"] == "pending"


def test_default_claim_timeout_holds_a_job_of_a_few_minutes() -> None:
    # The SDK bounds a prediction at 300 s and a sync worker sends no heartbeat.
    assert DEFAULT_CLAIM_TIMEOUT > 300
    assert EmulatorConfig().claim_timeout == DEFAULT_CLAIM_TIMEOUT


def test_a_claim_without_claim_timeout_uses_the_emulator_default(
    queue_emulator_factory: Factory, api: Api
) -> None:
    client = api(queue_emulator_factory(claim_timeout=7))
    submit(client, "m", {})
    data = _retrieve(client, RETRIEVE_PATH, "m").json()["data"]
    assert data["claim_timeout"] == 7
    assert claims(client, "m")[0]["claim_timeout"] == 7
    assert jobs(client, "m")[0]["claim_timeout"] == 7


def test_each_claim_keeps_its_own_lease_and_running_renews_by_it(
    queue_emulator_factory: Factory, api: Api
) -> None:
    # A deliberately short emulator default (0.3 s) next to a claim that asks for 30 s.
    client = api(queue_emulator_factory(claim_timeout=0.3))
    long_rid = submit(client, "m", {"n": 1})
    short_rid = submit(client, "m", {"n": 2})
    assert _retrieve(client, RETRIEVE_PATH, "m", claim_timeout="30").json()["data"]
    assert _retrieve(client, RETRIEVE_PATH, "m").json()["data"]
    # The short one lapses back to pending; the long one stays claimed past 0.3 s.
    wait_status(client, "m", short_rid, {"pending"}, timeout=10)
    assert status(client, "m", long_rid)["status"] == "running"
    before = jobs(client, "m")[0]["claim_expires_at"]
    assert update(client, "m", long_rid, "running").status_code == 200
    job = jobs(client, "m")[0]
    assert job["claim_timeout"] == 30
    assert job["claim_expires_at"] >= before  # renewed by 30 s, not by the 0.3 s default


def test_heartbeats_renew_a_short_lease_then_it_lapses_and_retries(
    queue_emulator_factory: Factory, api: Api
) -> None:
    client = api(queue_emulator_factory())
    rid = submit(client, "m", {})
    assert _retrieve(client, RETRIEVE_PATH, "m", claim_timeout="1").json()["data"]
    deadline = time.monotonic() + 2.5  # well past the 1 s lease
    while time.monotonic() < deadline:
        assert update(client, "m", rid, "running").status_code == 200
        assert status(client, "m", rid)["status"] == "running"
        time.sleep(0.2)
    # Heartbeats stop: the claim lapses and the job waits for its retry.
    lapsed = wait_status(client, "m", rid, {"pending"}, timeout=10)
    assert lapsed["retries"] == 1
    again = _retrieve(client, RETRIEVE_PATH, "m").json()["data"]
    assert again["request_id"] == rid and again["retries"] == 1


def test_claims_record_what_the_worker_says_about_itself(
    queue_emulator_factory: Factory, api: Api
) -> None:
    client = api(queue_emulator_factory())
    submit(client, "m", {})
    response = client.get(
        RETRIEVE_PATH,
        params={"model": "m", "timeout": "0s", "hostname": "gpu-7", "claim_timeout": "90"},
        headers={
            "x-worker-version": "2024.1",
            "x-idle-time": "12.5",
            "User-Agent": "python-httpx/0.28.1 sprocket/0.1.4 m/2024.1",
        },
    )
    assert response.json()["data"]
    (claim,) = claims(client, "m")
    assert claim["hostname"] == "gpu-7"
    assert claim["worker_version"] == "2024.1"
    assert claim["idle_time"] == "12.5"
    assert claim["user_agent"] == "python-httpx/0.28.1 sprocket/0.1.4 m/2024.1"
    assert claim["claim_timeout"] == 90
    assert jobs(client, "m")[0]["claimed_by"] == "gpu-7"


def test_claims_are_logged_at_debug(
    queue_emulator_factory: Factory, api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    client = api(queue_emulator_factory())
    submit(client, "m", {})
    with caplog.at_level("DEBUG", logger="together_queue.emulator"):
        _retrieve(client, RETRIEVE_PATH, "m", hostname="gpu-9")
    assert any("gpu-9" in r.getMessage() and r.levelname == "DEBUG" for r in caplog.records)


def _sprocket(
    emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch, **kwargs: Any
) -> SprocketLikeWorker:
    """A worker pointed at a TLS emulator the way the SDK is: host:port, SSL_CERT_FILE."""
    assert emulator.ca_file is not None and emulator.url.startswith("https://")
    monkeypatch.setenv("SSL_CERT_FILE", emulator.ca_file)
    base = emulator.url.removeprefix("https://")  # TOGETHER_API_BASE_URL=127.0.0.1:PORT
    return SprocketLikeWorker(base=base, model="m", api_key="k", **kwargs)


def test_a_sync_worker_without_claim_timeout_runs_jobs_to_done(
    queue_emulator_factory: Factory, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator = queue_emulator_factory(tls=True, api_keys=["k"])
    client = api(emulator, verify=emulator.ssl_context(), headers={"Authorization": "Bearer k"})
    worker = _sprocket(emulator, monkeypatch, predict=lambda p: {"twice": p["n"] * 2})
    ids = [submit(client, "m", {"n": n}) for n in range(3)]
    with WorkerThread(worker, jobs=3) as thread:
        thread.join(30)
    assert [status(client, "m", rid)["outputs"] for rid in ids] == [
        {"twice": n * 2} for n in range(3)
    ]
    assert worker.failures == []
    assert {c["claim_timeout"] for c in claims(client, "m")} == {emulator.config.claim_timeout}


def test_an_async_worker_job_outliving_the_default_lease_runs_exactly_once(
    queue_emulator_factory: Factory, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The emulator's default lease is deliberately short (0.5 s); the worker asks for
    # 3 s and heartbeats every 1 s (the SDK: 90 s and 45 s) while its job runs 2 s.
    emulator = queue_emulator_factory(claim_timeout=0.5, tls=True, api_keys=["k"])
    client = api(emulator, verify=emulator.ssl_context(), headers={"Authorization": "Bearer k"})

    async def predict(payload: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(2)
        return {"ok": True}

    worker = _sprocket(emulator, monkeypatch, predict=predict, claim_timeout=3, heartbeat=1.0)
    rid = submit(client, "m", {})
    with WorkerThread(worker, jobs=1) as thread:
        thread.join(30)
    final = status(client, "m", rid)
    assert (final["status"], final["outputs"], final["retries"]) == ("done", {"ok": True}, 0)
    assert len(claims(client, "m")) == 1
    assert worker.failures == []


def _v1_database(path: Path) -> None:
    """A --db file as 0.1.0 wrote it (schema version 1), holding one running job."""
    schema = (Path(__file__).parent / "data" / "schema_v1.sql").read_text()
    conn = sqlite3.connect(path)
    conn.executescript(schema)
    now = time.time()
    conn.execute(
        "INSERT INTO jobs (request_id, model, priority, status, payload, info, created_at, "
        "claimed_at, claim_expires_at, claim_id, claimed_by, claim_count) VALUES "
        "('old', 'm', 0, 'running', '{\"a\":1}', '{}', ?, ?, ?, 'c1', 'h', 1)",
        (now, now, now + 3600),
    )
    conn.execute(
        "INSERT INTO claims (seq, request_id, model, priority, retries, hostname, claim_id, "
        "claimed_at) VALUES (1, 'old', 'm', 0, 0, 'h', 'c1', ?)",
        (now,),
    )
    conn.execute("PRAGMA user_version=1")
    conn.commit()
    conn.close()


def test_a_version_1_database_is_migrated(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    _v1_database(db)
    store = JobStore(str(db))
    try:
        (job,) = store.jobs("m")
        assert (job.request_id, job.status, job.claim_timeout) == ("old", "running", None)
        # A claim from before the migration renews by the default it is given.
        renewed = store.update("old", "m", "running", claim_timeout=50)
        assert renewed.claim_expires_at is not None
        assert math.isclose(renewed.claim_expires_at - time.time(), 50, abs_tol=5)
        (claim,) = store.claims("m")
        assert (claim.hostname, claim.worker_version, claim.claim_timeout) == ("h", None, None)
        new = store.submit("m", {"b": 2})
        claimed = store.claim("m", "h2", 9)
        assert claimed is not None and claimed.request_id == new.request_id
        assert claimed.claim_timeout == 9
    finally:
        store.close()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
    conn.close()


def test_the_warning_for_a_model_nobody_polls(
    queue_emulator_factory: Factory, api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    emulator = queue_emulator_factory(unpolled_warning_seconds=0.2, models={"echo": "echo"})
    client = api(emulator)
    with caplog.at_level("WARNING", logger="together_queue.emulator"):
        submit(client, "nobody", {})
        submit(client, "nobody", {})
        submit(client, "echo", {})  # served in process: no warning
        _retrieve(client, RETRIEVE_PATH, "polled")  # a worker polls this one
        submit(client, "polled", {})

        def warnings() -> list[str]:
            return [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]

        wait_for(lambda: warnings(), timeout=10, what="the unpolled-model warning")
        submit(client, "nobody", {})  # warned once already: schedules no second warning
    (message,) = warnings()
    assert "2 job(s) of model 'nobody'" in message and "no worker" in message
    # Only 'nobody' was ever watched: echo has a handler, 'polled' had a worker first.
    assert emulator.runtime._warned == {"nobody"}
