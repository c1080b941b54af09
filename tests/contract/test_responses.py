"""Every response the emulator gives conforms to openapi.yaml, error statuses included.

For each operation, scenarios provoke every status code the spec declares for it
(the set is read from the spec, so a newly declared status fails here until a
scenario provokes it): 200s, a 400 for each bad field, 401 without and with a wrong
key, 404, 409, 413, and 429/500 through the emulator's fault plan. Each response is
validated with openapi-core (an undeclared status code is a violation). Requests
that the scenario makes bad on purpose must be flagged by the request checker too.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.contract.params import API_KEY, MAX_BODY_BYTES
from tests.support.contract import ContractRecorder
from tests.support.openapi_check import load_spec
from together_queue.emulator import EmulatorHandle

SPEC = load_spec()
PARKED = "parked"  # no handler: its jobs stay pending
NO_KEY = None
WRONG_KEY = "sk-not-the-key"


@dataclass(frozen=True)
class Scenario:
    """One request meant to get `status`; `bad_request` when the request breaks the spec."""

    label: str
    status: int
    method: str
    path: str
    params: dict[str, str] | None = None
    json_body: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    key: str | None = API_KEY
    faults: tuple[str, ...] = ()
    bad_request: bool = False
    param: str | None = None  # the QueueError.param a 400 must name


AUTH = {"Authorization": f"Bearer {API_KEY}"}


def _done_job(http: httpx.Client) -> str:
    submitted = http.post("/queue/submit", json={"model": "echo", "payload": {}}, headers=AUTH)
    request_id = submitted.json()["requestId"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        query = {"request_id": request_id, "model": "echo"}
        status = http.get("/queue/status", params=query, headers=AUTH)
        if status.json()["status"] == "done":
            return str(request_id)
        time.sleep(0.02)
    raise AssertionError(f"echo job {request_id} not done within 10 s")


def _pending_job(http: httpx.Client) -> str:
    body = http.post("/queue/submit", json={"model": PARKED, "payload": {}}, headers=AUTH).json()
    return str(body["requestId"])


def _big_payload() -> dict[str, Any]:
    return {"blob": "x" * (MAX_BODY_BYTES + 100)}


def _submit(done: str, pending: str) -> list[Scenario]:
    post = "POST", "/queue/submit"
    ok = {"model": "echo", "payload": {"a": 1}}
    return [
        Scenario("minimal", 200, *post, json_body=ok),
        Scenario("all fields", 200, *post, json_body={**ok, "priority": 2, "info": {"k": [1]}}),
        Scenario(
            "model missing", 400, *post, json_body={"payload": {}}, bad_request=True, param="model"
        ),
        Scenario(
            "model not a string",
            400,
            *post,
            json_body={"model": 5, "payload": {}},
            bad_request=True,
            param="model",
        ),
        Scenario(
            "payload missing",
            400,
            *post,
            json_body={"model": "echo"},
            bad_request=True,
            param="payload",
        ),
        Scenario(
            "payload not an object",
            400,
            *post,
            json_body={"model": "echo", "payload": []},
            bad_request=True,
            param="payload",
        ),
        Scenario(
            "priority not an integer",
            400,
            *post,
            json_body={**ok, "priority": "1"},
            bad_request=True,
            param="priority",
        ),
        Scenario(
            "priority a float",
            400,
            *post,
            json_body={**ok, "priority": 1.5},
            bad_request=True,
            param="priority",
        ),
        Scenario(
            "info not an object",
            400,
            *post,
            json_body={**ok, "info": "x"},
            bad_request=True,
            param="info",
        ),
        Scenario(
            "body not JSON",
            400,
            *post,
            content=b"{",
            bad_request=True,
            headers={"Content-Type": "application/json"},
        ),
        Scenario("body a JSON array", 400, *post, json_body=[ok], bad_request=True),
        Scenario(
            "content type not JSON",
            400,
            *post,
            content=json.dumps(ok).encode(),
            headers={"Content-Type": "text/plain"},
            bad_request=True,
        ),
        Scenario("no key", 401, *post, json_body=ok, key=NO_KEY, bad_request=True),
        Scenario("wrong key", 401, *post, json_body=ok, key=WRONG_KEY),
        Scenario(
            "body too large", 413, *post, json_body={"model": "echo", "payload": _big_payload()}
        ),
        Scenario("rate limited", 429, *post, json_body=ok, faults=("submit:429:next=1",)),
        Scenario("server error", 500, *post, json_body=ok, faults=("submit:500:next=1",)),
    ]


def _status(done: str, pending: str) -> list[Scenario]:
    get = "GET", "/queue/status"
    ok = {"request_id": done, "model": "echo"}
    return [
        Scenario("done job", 200, *get, params=ok),
        Scenario("pending job", 200, *get, params={"request_id": pending, "model": PARKED}),
        Scenario(
            "request_id missing",
            400,
            *get,
            params={"model": "echo"},
            bad_request=True,
            param="request_id",
        ),
        Scenario(
            "model missing", 400, *get, params={"request_id": done}, bad_request=True, param="model"
        ),
        Scenario("no key", 401, *get, params=ok, key=NO_KEY, bad_request=True),
        Scenario("wrong key", 401, *get, params=ok, key=WRONG_KEY),
        Scenario("unknown job", 404, *get, params={"request_id": "no-such-job", "model": "echo"}),
        Scenario("job of another model", 404, *get, params={"request_id": done, "model": PARKED}),
        Scenario("rate limited", 429, *get, params=ok, faults=("status:429:next=1",)),
        Scenario("server error", 500, *get, params=ok, faults=("status:500:next=1",)),
    ]


def _cancel(done: str, pending: str) -> list[Scenario]:
    post = "POST", "/queue/cancel"
    return [
        Scenario("pending job", 200, *post, json_body={"request_id": pending, "model": PARKED}),
        Scenario("done job", 409, *post, json_body={"request_id": done, "model": "echo"}),
        Scenario(
            "model missing",
            400,
            *post,
            json_body={"request_id": done},
            bad_request=True,
            param="model",
        ),
        Scenario(
            "request_id missing",
            400,
            *post,
            json_body={"model": "echo"},
            bad_request=True,
            param="request_id",
        ),
        Scenario(
            "request_id not a string",
            400,
            *post,
            json_body={"request_id": 7, "model": "echo"},
            bad_request=True,
            param="request_id",
        ),
        Scenario(
            "body not JSON",
            400,
            *post,
            content=b"nope",
            bad_request=True,
            headers={"Content-Type": "application/json"},
        ),
        Scenario(
            "no key",
            401,
            *post,
            json_body={"request_id": done, "model": "echo"},
            key=NO_KEY,
            bad_request=True,
        ),
        Scenario(
            "wrong key", 401, *post, json_body={"request_id": done, "model": "echo"}, key=WRONG_KEY
        ),
        Scenario("unknown job", 404, *post, json_body={"request_id": "nope", "model": "echo"}),
        Scenario(
            "body too large",
            413,
            *post,
            json_body={"request_id": "x" * (MAX_BODY_BYTES + 100), "model": "echo"},
        ),
        Scenario(
            "rate limited",
            429,
            *post,
            json_body={"request_id": done, "model": "echo"},
            faults=("cancel:429:next=1",),
        ),
        Scenario(
            "server error",
            500,
            *post,
            json_body={"request_id": done, "model": "echo"},
            faults=("cancel:500:next=1",),
        ),
    ]


def _metrics(done: str, pending: str) -> list[Scenario]:
    get = "GET", "/queue/metrics"
    return [
        Scenario("known model", 200, *get, params={"model": PARKED}),
        Scenario("model with no jobs", 200, *get, params={"model": "never-used"}),
        Scenario("model missing", 400, *get, params={}, bad_request=True, param="model"),
        Scenario("no key", 401, *get, params={"model": "echo"}, key=NO_KEY, bad_request=True),
        Scenario("wrong key", 401, *get, params={"model": "echo"}, key=WRONG_KEY),
        Scenario(
            "rate limited", 429, *get, params={"model": "echo"}, faults=("metrics:429:next=1",)
        ),
        Scenario(
            "server error", 500, *get, params={"model": "echo"}, faults=("metrics:500:next=1",)
        ),
    ]


def _clear(done: str, pending: str) -> list[Scenario]:
    post = "POST", "/queue/clear"
    # A model of its own: clearing PARKED would cancel the pending job other scenarios use.
    ok = {"model": "cleared-in-contract-tests"}
    return [
        Scenario("nothing pending", 200, *post, json_body=ok),
        Scenario("pending jobs", 200, *post, json_body={"model": PARKED}),
        Scenario("model missing", 400, *post, json_body={}, bad_request=True, param="model"),
        Scenario(
            "model empty", 400, *post, json_body={"model": ""}, bad_request=True, param="model"
        ),
        Scenario(
            "model not a string",
            400,
            *post,
            json_body={"model": 5},
            bad_request=True,
            param="model",
        ),
        Scenario(
            "body not JSON",
            400,
            *post,
            content=b"{",
            bad_request=True,
            headers={"Content-Type": "application/json"},
        ),
        Scenario("no key", 401, *post, json_body=ok, key=NO_KEY, bad_request=True),
        Scenario("wrong key", 401, *post, json_body=ok, key=WRONG_KEY),
        Scenario("body too large", 413, *post, json_body={"model": "x" * (MAX_BODY_BYTES + 100)}),
        Scenario("rate limited", 429, *post, json_body=ok, faults=("clear:429:next=1",)),
        Scenario("server error", 500, *post, json_body=ok, faults=("clear:500:next=1",)),
    ]


SCENARIOS: dict[str, Callable[[str, str], list[Scenario]]] = {
    "submitQueueJob": _submit,
    "getQueueJobStatus": _status,
    "cancelQueueJob": _cancel,
    "getQueueMetrics": _metrics,
    "clearQueue": _clear,
}


def _declared(operation_id: str) -> set[int]:
    for item in SPEC["paths"].values():
        for op in item.values():
            if op.get("operationId") == operation_id:
                return {int(code) for code in op["responses"] if code.isdigit()}
    raise AssertionError(f"no operation {operation_id} in openapi.yaml")


def _send(http: httpx.Client, scenario: Scenario) -> httpx.Response:
    headers = dict(scenario.headers)
    if scenario.key is not None:
        headers["Authorization"] = f"Bearer {scenario.key}"
    return http.request(
        scenario.method,
        scenario.path,
        params=scenario.params,
        json=scenario.json_body,
        content=scenario.content,
        headers=headers,
    )


def test_every_operation_has_scenarios() -> None:
    in_spec = {op["operationId"] for item in SPEC["paths"].values() for op in item.values()}
    assert in_spec == set(SCENARIOS), "operations in openapi.yaml and scenarios here differ"


@pytest.mark.parametrize("operation_id", sorted(SCENARIOS))
def test_every_declared_response_conforms(
    operation_id: str,
    emulator: EmulatorHandle,
    raw_http: tuple[httpx.Client, ContractRecorder],
) -> None:
    http, recorder = raw_http
    done, pending = _done_job(http), _pending_job(http)
    recorder.assert_clean()  # the setup requests conform too
    problems: list[str] = []
    for scenario in SCENARIOS[operation_id](done, pending):
        if scenario.faults:
            emulator.set_faults(scenario.faults)
        try:
            response = _send(http, scenario)
        finally:
            emulator.clear_faults()
        found = recorder.take_violations()
        label = f"{operation_id} '{scenario.label}'"
        if response.status_code != scenario.status:
            problems.append(f"{label}: HTTP {response.status_code}, expected {scenario.status}")
        bad_responses = [str(v) for v in found if v.kind == "response"]
        problems += [f"{label}: {v}" for v in bad_responses]
        flagged = [v for v in found if v.kind == "request"]
        if scenario.bad_request and not flagged:
            problems.append(f"{label}: the request checker did not flag this request")
        if not scenario.bad_request and flagged:
            problems += [f"{label}: conforming request flagged: {v}" for v in flagged]
        if scenario.param is not None and response.status_code == 400:
            param = response.json().get("param")
            if param != scenario.param:
                problems.append(f"{label}: QueueError.param is {param!r}, not {scenario.param!r}")
    assert not problems, "\n".join(problems)
    seen = {status for (op, status) in recorder.seen if op == operation_id}
    assert seen == _declared(operation_id), (
        f"{operation_id}: responses seen {sorted(seen)}, declared {sorted(_declared(operation_id))}"
    )
