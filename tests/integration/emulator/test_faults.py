"""Fault injection: before/after, 500/429/drop/latency, deterministic and seeded modes."""

from __future__ import annotations

import time

import httpx
import pytest

from together_queue.emulator.faults import FaultPlan, FaultRule, parse_fault

from .conftest import Api, Factory
from .helpers import claims, jobs, retrieve, status, submit, wait_status

SUBMIT = {"model": "m", "payload": {"n": 1}}


@pytest.mark.parametrize("kind", ["500", "429"])
def test_submit_error_before_stores_nothing(
    queue_emulator_factory: Factory, api: Api, kind: str
) -> None:
    emulator = queue_emulator_factory()
    client = api(emulator)
    emulator.set_faults([f"submit:{kind}:next=1:before:retry_after=3"])
    response = client.post("/v1/queue/submit", json=SUBMIT)
    assert response.status_code == int(kind)
    assert response.json()["type"] in ("server_error", "rate_limit_error")
    if kind == "429":
        assert response.headers["retry-after"] == "3"
    assert jobs(client, "m") == []
    assert client.post("/v1/queue/submit", json=SUBMIT).status_code == 200  # next=1 is spent
    assert len(jobs(client, "m")) == 1


def test_submit_500_after_stores_the_job(queue_emulator_factory: Factory, api: Api) -> None:
    emulator = queue_emulator_factory()
    client = api(emulator)
    emulator.set_faults(["submit:500:next=1:after"])
    response = client.post("/v1/queue/submit", json=SUBMIT)
    assert response.status_code == 500
    assert "requestId" not in response.json()
    stored = jobs(client, "m")
    assert len(stored) == 1 and stored[0]["payload"] == {"n": 1}
    assert status(client, "m", stored[0]["request_id"])["status"] == "pending"


@pytest.mark.parametrize(("when", "stored"), [("before", 0), ("after", 1)])
def test_dropped_connection(
    queue_emulator_factory: Factory, api: Api, when: str, stored: int
) -> None:
    emulator = queue_emulator_factory()
    client = api(emulator)
    emulator.set_faults([f"submit:drop:next=1:{when}"])
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/v1/queue/submit", json=SUBMIT)
    assert len(jobs(client, "m")) == stored
    submit(client, "m", {})  # the server is fine afterwards
    assert len(jobs(client, "m")) == stored + 1


def test_status_429_then_recovers(queue_emulator_factory: Factory, api: Api) -> None:
    emulator = queue_emulator_factory()
    client = api(emulator)
    rid = submit(client, "m", {})
    emulator.set_faults(["status:429:next=2"])
    params = {"model": "m", "request_id": rid}
    codes = [client.get("/v1/queue/status", params=params).status_code for _ in range(3)]
    assert codes == [429, 429, 200]


def test_latency_delays_the_answer(queue_emulator_factory: Factory, api: Api) -> None:
    emulator = queue_emulator_factory()
    client = api(emulator)
    emulator.set_faults(["metrics:latency:1:seconds=0.3"])
    started = time.monotonic()
    assert client.get("/v1/queue/metrics", params={"model": "m"}).status_code == 200
    assert time.monotonic() - started >= 0.3
    emulator.set_faults(["metrics:latency:1:after:seconds=0.2"])
    started = time.monotonic()
    assert client.get("/v1/queue/metrics", params={"model": "m"}).status_code == 200
    assert time.monotonic() - started >= 0.2


def _codes(client: httpx.Client, count: int) -> list[int]:
    return [
        client.get("/v1/queue/metrics", params={"model": "m"}).status_code for _ in range(count)
    ]


def test_rates_are_reproducible_with_a_seed(queue_emulator_factory: Factory, api: Api) -> None:
    plan = FaultPlan.parse(["metrics:500:0.5"], seed=7)
    first = queue_emulator_factory(faults=plan)
    second = queue_emulator_factory(faults=plan)
    codes = _codes(api(first), 30)
    assert set(codes) == {200, 500}
    assert _codes(api(second), 30) == codes
    first.set_faults(plan)  # setting a plan reseeds it
    assert _codes(api(first), 30) == codes


def test_faults_change_at_runtime_over_http(queue_emulator_factory: Factory, api: Api) -> None:
    emulator = queue_emulator_factory()
    client = api(emulator)
    plan = {
        "seed": 1,
        "rules": [
            "cancel:500:next=1",
            {"operation": "metrics", "kind": "429", "count": 2, "retry_after": 5},
        ],
    }
    response = client.post("/_emulator/faults", json=plan)
    assert response.status_code == 200
    assert response.json()["remaining"] == [1, 2]
    assert client.get("/v1/queue/metrics", params={"model": "m"}).headers["retry-after"] == "5"
    assert client.get("/_emulator/faults").json()["remaining"] == [1, 1]
    cancel = client.post("/v1/queue/cancel", json={"model": "m", "request_id": "x"})
    assert cancel.status_code == 500
    response = client.post("/_emulator/faults", json={"rules": ["submit:teapot:1"]})
    assert response.status_code == 400
    assert client.post("/_emulator/faults", json={}).json()["rules"] == []
    assert _codes(client, 3) == [200, 200, 200]


def test_retrieve_fault_after_claims_the_job_and_it_lapses_back(
    queue_emulator_factory: Factory, api: Api
) -> None:
    emulator = queue_emulator_factory(claim_timeout=0.2)
    client = api(emulator)
    rid = submit(client, "m", {})
    emulator.set_faults(["retrieve:500:next=1:after"])
    lost = client.get("/internal/v1/rabbitmq/retrieve", params={"model": "m", "timeout": "0"})
    assert lost.status_code == 500
    assert [c["request_id"] for c in claims(client, "m")] == [rid]  # claimed; nobody knew
    assert wait_status(client, "m", rid, {"pending"})["retries"] == 1
    job = retrieve(client, "m", timeout="5s")
    assert job is not None and job["request_id"] == rid


@pytest.mark.parametrize(
    ("spec", "rule"),
    [
        ("submit:500:0.1:after", FaultRule("submit", "500", rate=0.1, when="after")),
        ("status:429:next=2:retry_after=3", FaultRule("status", "429", count=2, retry_after=3)),
        ("*:latency:1:seconds=0.05", FaultRule("*", "latency", rate=1.0, seconds=0.05)),
        ("update:drop:next=1:after", FaultRule("update", "drop", count=1, when="after")),
    ],
)
def test_fault_spec_syntax(spec: str, rule: FaultRule) -> None:
    assert parse_fault(spec) == rule


@pytest.mark.parametrize(
    "spec",
    [
        "submit:500",
        "nope:500:1",
        "submit:418:1",
        "submit:500:2",
        "submit:500:1:later",
        "submit:500:next=x",
        "submit:429:1:wait=3",
        "submit:500:-0.1",
        "submit:500:nan",
        "metrics:latency:1:seconds=nan",
        "metrics:latency:1:seconds=inf",
    ],
)
def test_bad_fault_specs_are_rejected(spec: str) -> None:
    with pytest.raises(ValueError, match="fault"):
        parse_fault(spec)


@pytest.mark.parametrize(
    "rule",
    [
        {"operation": "metrics", "kind": "latency", "seconds": "nan"},
        {"operation": "metrics", "kind": "latency", "seconds": "inf"},
        {"operation": "metrics", "kind": "latency", "seconds": -1},
        {"operation": "metrics", "kind": "500", "rate": "nan"},
        "metrics:latency:1:seconds=nan",
        "metrics:latency:1:seconds=inf",
        "metrics:latency:1:seconds=-0.5",
    ],
)
def test_non_finite_or_negative_fault_timings_are_400(
    queue_emulator_factory: Factory, api: Api, rule: object
) -> None:
    client = api(queue_emulator_factory())
    response = client.post("/_emulator/faults", json={"rules": [rule]})
    assert response.status_code == 400, response.text
    assert response.json()["param"] == "rules"
    # The plan in force is still the empty one, and it still serialises.
    plan = client.get("/_emulator/faults")
    assert plan.status_code == 200 and plan.json()["rules"] == []
