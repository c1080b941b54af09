"""The emulator's clear: atomic, pending jobs only, metrics follow, never a cleared claim."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from together_queue.emulator import EmulatorHandle

Factory = Callable[..., EmulatorHandle]


def _submit(http: httpx.Client, model: str, i: int = 0) -> str:
    response = http.post("/v1/queue/submit", json={"model": model, "payload": {"i": i}})
    assert response.status_code == 200, response.text
    request_id: str = response.json()["requestId"]
    return request_id


def _status(http: httpx.Client, model: str, request_id: str) -> str:
    response = http.get("/v1/queue/status", params={"model": model, "request_id": request_id})
    assert response.status_code == 200, response.text
    status: str = response.json()["status"]
    return status


def _retrieve(http: httpx.Client, model: str, timeout: str = "0s") -> dict[str, Any] | None:
    response = http.get(
        "/internal/v1/rabbitmq/retrieve",
        params={"model": model, "timeout": timeout, "hostname": "w"},
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] | None = response.json()["data"]
    return data


def _clear(http: httpx.Client, body: object) -> httpx.Response:
    return http.post("/v1/queue/clear", json=body)


def test_clear_cancels_pending_jobs_of_that_model_only(queue_emulator_factory: Factory) -> None:
    handle = queue_emulator_factory()
    with httpx.Client(base_url=handle.url, timeout=10) as http:
        running = _submit(http, "m")
        claimed = _retrieve(http, "m")
        assert claimed is not None and claimed["request_id"] == running
        pending = [_submit(http, "m", i) for i in range(1, 4)]
        other = _submit(http, "other")

        response = _clear(http, {"model": "m"})
        assert (response.status_code, response.json()) == (200, {"canceled_count": 3})

        assert [_status(http, "m", rid) for rid in pending] == ["canceled"] * 3
        assert _status(http, "m", running) == "running"
        assert _status(http, "other", other) == "pending"
        metrics = http.get("/v1/queue/metrics", params={"model": "m"}).json()
        assert metrics == {"messages_waiting": 0, "messages_running": 1, "total_jobs": 1}
        assert _retrieve(http, "m") is None  # nothing left to claim

        # The running job is untouched: its worker still finishes it.
        done = http.post(
            "/internal/v1/videos/status",
            json={"model": "m", "request_id": running, "status": "done", "payload": {"ok": 1}},
        )
        assert done.status_code == 200, done.text
        assert _status(http, "m", running) == "done"
        # Nothing pending now: a second clear cancels nothing.
        assert _clear(http, {"model": "m"}).json() == {"canceled_count": 0}


@pytest.mark.parametrize(
    ("body", "param"),
    [({}, "model"), ({"model": ""}, "model"), ({"model": 3}, "model"), ([], None)],
)
def test_clear_bad_body_is_400(queue_emulator_factory: Factory, body: object, param: str) -> None:
    handle = queue_emulator_factory()
    with httpx.Client(base_url=handle.url, timeout=10) as http:
        response = _clear(http, body)
    assert response.status_code == 400, response.text
    if param is not None:
        assert response.json()["param"] == param


def test_clear_needs_the_key(queue_emulator_factory: Factory) -> None:
    handle = queue_emulator_factory(api_keys=("k-123",))
    with httpx.Client(base_url=handle.url, timeout=10) as http:
        assert _clear(http, {"model": "m"}).status_code == 401
        ok = http.post(
            "/v1/queue/clear", json={"model": "m"}, headers={"Authorization": "Bearer k-123"}
        )
    assert (ok.status_code, ok.json()) == (200, {"canceled_count": 0})


def test_no_worker_ever_claims_a_cleared_job(queue_emulator_factory: Factory) -> None:
    """Workers long-poll while jobs arrive and a clear runs: each job is claimed xor canceled."""
    handle = queue_emulator_factory()
    total, workers = 60, 4
    claimed: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def worker() -> None:
        with httpx.Client(base_url=handle.url, timeout=10) as http:
            deadline = time.monotonic() + 20  # bounded, whatever happens
            while not stop.is_set() and time.monotonic() < deadline:
                job = _retrieve(http, "m", timeout="200ms")
                if job is not None:
                    with lock:
                        claimed.append(job["request_id"])

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    try:
        with httpx.Client(base_url=handle.url, timeout=10) as http:
            submitted = [_submit(http, "m", i) for i in range(total // 2)]
            count = _clear(http, {"model": "m"}).json()["canceled_count"]
            submitted += [_submit(http, "m", i) for i in range(total // 2, total)]
            count += _clear(http, {"model": "m"}).json()["canceled_count"]
            # Every job is now running (claimed) or canceled: none is left pending.
            statuses = {rid: _status(http, "m", rid) for rid in submitted}
            claims = http.get("/_emulator/claims", params={"model": "m"}).json()["claims"]
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    canceled = {rid for rid, s in statuses.items() if s == "canceled"}
    assert len(canceled) == count
    assert set(statuses.values()) <= {"canceled", "running"}
    claimed_ids = {c["request_id"] for c in claims}
    assert not canceled & claimed_ids, "a cleared job was claimed"
    assert not canceled & set(claimed)
    assert len(canceled) + len(claimed_ids) == total
