"""Every status code each operation can answer, checked against openapi.yaml.

The ``api`` clients validate every /v1 response of every test; this test makes sure each
(operation, status) pair the emulator can produce is actually produced and checked, and
that the checker is real (it rejects bodies that break the spec).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import Api, Factory
from .helpers import cancel, retrieve, submit, update
from .spec_check import ALLOWED_STATUS, SpecChecker

JSON = {"content-type": "application/json"}


def test_every_operation_and_status_validates(
    queue_emulator_factory: Factory, api: Api, spec_checker: SpecChecker
) -> None:
    emulator = queue_emulator_factory(models={"echo": "echo"}, api_keys=("k",), max_body_bytes=500)
    client = api(emulator, headers={"authorization": "Bearer k"})
    anonymous = api(emulator)
    spec_checker.seen.clear()
    too_big = json.dumps({"model": "m", "payload": {"x": "y" * 600}, "request_id": "r"})

    calls: dict[str, tuple[str, str, dict[str, Any]]] = {
        "submit": ("POST", "/v1/queue/submit", {"json": {"model": "m", "payload": {}}}),
        "status": ("GET", "/v1/queue/status", {"params": {"model": "m", "request_id": "r"}}),
        "cancel": ("POST", "/v1/queue/cancel", {"json": {"model": "m", "request_id": "r"}}),
        "metrics": ("GET", "/v1/queue/metrics", {"params": {"model": "m"}}),
    }
    for operation, (method, path, kwargs) in calls.items():
        anonymous.request(method, path, **kwargs)  # 401
        if method == "POST":
            client.request(method, path, content=b"[", headers=JSON)  # 400
            client.request(method, path, content=too_big, headers=JSON)  # 413
        else:
            client.request(method, path)  # 400: no query parameters
        for kind in ("500", "429"):
            emulator.set_faults([f"{operation}:{kind}:next=1"])
            client.request(method, path, **kwargs)
        emulator.set_faults([])

    rid = submit(client, "m", {"a": 1}, info={"k": "v"})  # submit 200
    client.get("/v1/queue/status", params={"model": "m", "request_id": rid})  # status 200
    client.get("/v1/queue/status", params={"model": "m", "request_id": "nope"})  # status 404
    client.get("/v1/queue/metrics", params={"model": "m"})  # metrics 200
    assert retrieve(client, "m") is not None
    assert update(client, "m", rid, "done", payload={"out": [1, {"deep": None}]}).is_success
    client.get("/v1/queue/status", params={"model": "m", "request_id": rid})  # done, outputs
    cancel(client, "m", rid)  # cancel 409
    cancel(client, "m", submit(client, "m", {}))  # cancel 200
    cancel(client, "m", "nope")  # cancel 404

    expected = {(op, code) for op, codes in ALLOWED_STATUS.items() for code in codes}
    assert set(spec_checker.seen) == expected


def test_checker_rejects_bodies_that_break_the_spec(spec_checker: SpecChecker) -> None:
    good = {"model": "m", "request_id": "r", "status": "done", "created_at": "2026-01-01T00:00:00Z"}
    spec_checker.check("GET", "/v1/queue/status", 200, good)
    bad_bodies = [
        ("GET", "/v1/queue/status", 200, {**good, "status": "exploded"}),
        ("GET", "/v1/queue/status", 200, {"model": "m", "status": "done"}),
        ("GET", "/v1/queue/status", 200, {**good, "created_at": "2026-01-01 00:00:00"}),
        ("GET", "/v1/queue/status", 200, {**good, "retries": "1"}),
        ("POST", "/v1/queue/cancel", 409, {"status": "pending"}),
        ("GET", "/v1/queue/metrics", 200, {"messages_waiting": 1, "messages_running": 0}),
        ("POST", "/v1/queue/submit", 200, {"requestId": 5}),
        ("POST", "/v1/queue/submit", 400, {"code": 400}),
        ("POST", "/v1/queue/submit", 404, {"code": "x"}),  # not an allowed status
    ]
    for method, path, code, body in bad_bodies:
        with pytest.raises(AssertionError):
            spec_checker.check(method, path, code, body)
