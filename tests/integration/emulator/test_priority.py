"""Strict priority then FIFO, observed through the worker protocol's claims."""

from __future__ import annotations

import threading
from typing import Any

import httpx

from .conftest import Api, Factory
from .helpers import claims, retrieve, submit, wait_for

PRIORITIES_FIRST = [0, 5, -1, 5, 0, 10, -1, 0]
PRIORITIES_LATER = [10, 3, 5, 0, -1, 10, 3, 7]


def _claim_all(client: httpx.Client, model: str, limit: int) -> list[str]:
    claimed: list[str] = []
    for _ in range(limit):
        job = retrieve(client, model)
        if job is None:
            break
        claimed.append(job["request_id"])
    return claimed


def test_claims_are_priority_then_fifo_with_interleaved_submits(
    queue_emulator_factory: Factory, api: Api
) -> None:
    emulator = queue_emulator_factory()
    client = api(emulator)
    pending: list[tuple[int, int, str]] = []  # (priority, submit order, request id)
    expected: list[str] = []

    def add(priorities: list[int], model: str = "q") -> None:
        for priority in priorities:
            rid = submit(client, model, {"p": priority}, priority=priority)
            if model == "q":
                pending.append((priority, len(pending) + len(expected), rid))
            submit(client, "other", {"p": priority}, priority=-priority)

    def take(count: int) -> list[str]:
        # The reference rule: highest priority, then earliest submitted.
        taken = []
        for _ in range(count):
            best = min(pending, key=lambda job: (-job[0], job[1]))
            pending.remove(best)
            taken.append(best[2])
        expected.extend(taken)
        return taken

    add(PRIORITIES_FIRST)
    assert _claim_all(client, "q", 3) == take(3)
    add(PRIORITIES_LATER)
    assert _claim_all(client, "q", 100) == take(len(pending))
    assert [c["request_id"] for c in claims(client, "q")] == expected
    other = [c["priority"] for c in claims(client, "other")]
    assert other == []  # claiming q never touches another model's queue
    other_claims = _claim_all(client, "other", 100)
    assert len(other_claims) == len(PRIORITIES_FIRST) + len(PRIORITIES_LATER)
    priorities = [c["priority"] for c in claims(client, "other")]
    assert priorities == sorted(priorities, reverse=True)


def test_concurrent_pollers_claim_each_job_once(queue_emulator_factory: Factory, api: Api) -> None:
    emulator = queue_emulator_factory()
    submitted = {submit(api(emulator), "q", {"i": i}, priority=i % 3) for i in range(40)}
    claimed: list[str] = []
    lock = threading.Lock()

    def poll() -> None:
        with httpx.Client(base_url=emulator.url, timeout=10) as client:
            while (job := retrieve(client, "q")) is not None:
                with lock:
                    claimed.append(job["request_id"])

    threads = [threading.Thread(target=poll) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(claimed) == sorted(submitted)
    log = claims(api(emulator), "q")
    assert len(log) == 40
    order = [(-c["priority"], c["seq"]) for c in log]
    assert order == sorted(order)


def test_long_poll_wakes_when_a_job_arrives(queue_emulator_factory: Factory, api: Api) -> None:
    emulator = queue_emulator_factory()
    client = api(emulator)
    result: dict[str, Any] = {}

    def poll() -> None:
        with httpx.Client(base_url=emulator.url, timeout=30) as poller:
            result["job"] = retrieve(poller, "late", timeout="20s", hostname="poller")

    thread = threading.Thread(target=poll)
    thread.start()
    wait_for(
        lambda: client.get("/_emulator/health").json()["waiters"].get("late") == 1,
        what="the long poll to wait",
    )
    rid = submit(client, "late", {"x": 1})
    thread.join(15)
    assert not thread.is_alive(), "the long poll was not woken by the submit"
    assert result["job"]["request_id"] == rid
    assert result["job"]["payload"] == {"x": 1}
    assert result["job"]["retries"] == 0
    assert claims(client, "late")[0]["hostname"] == "poller"


def test_retrieve_accepts_duration_formats(queue_emulator_factory: Factory, api: Api) -> None:
    client = api(queue_emulator_factory())
    for timeout in ("0s", "50ms", "0", "0.05s", "0.05"):
        assert retrieve(client, "empty", timeout=timeout) is None
    response = client.get(
        "/internal/v1/rabbitmq/retrieve", params={"model": "empty", "timeout": "soon"}
    )
    assert response.status_code == 400
    assert response.json()["param"] == "timeout"
