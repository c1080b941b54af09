"""Every answer of the emulator names its HTTP exchange in `x-request-id`."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx

from together_queue.emulator import EmulatorHandle

Api = Callable[..., httpx.Client]
Factory = Callable[..., EmulatorHandle]
ID = re.compile(r"^req_[0-9a-f]{24}$")


def test_every_answer_carries_its_own_request_id(queue_emulator_factory: Factory, api: Api) -> None:
    emulator = queue_emulator_factory(api_keys=["k"])
    client = api(emulator, headers={"Authorization": "Bearer k"})
    submitted = client.post("/v1/queue/submit", json={"model": "m", "payload": {}})
    missing = client.get("/v1/queue/status", params={"model": "m", "request_id": "nope"})
    unauthorized = httpx.get(f"{emulator.url}/v1/queue/metrics", params={"model": "m"})
    emulator.set_faults(["metrics:500:next=1"])
    injected = client.get("/v1/queue/metrics", params={"model": "m"})
    health = httpx.get(f"{emulator.url}/_emulator/health")
    answers = [submitted, missing, unauthorized, injected, health]
    assert [r.status_code for r in answers] == [200, 404, 401, 500, 200]
    ids = [r.headers.get("x-request-id", "") for r in answers]
    assert all(ID.match(i) for i in ids), ids
    assert len(set(ids)) == len(ids)
    assert submitted.json()["requestId"] not in ids  # the exchange's id is not the job's
