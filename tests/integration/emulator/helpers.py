"""Small HTTP helpers for the emulator tests: the public API and the worker protocol."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from typing import Any

import httpx


def wait_for(
    condition: Callable[[], Any], *, timeout: float = 10.0, interval: float = 0.01, what: str = ""
) -> Any:
    """Poll ``condition`` until it returns a truthy value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        time.sleep(interval)


def submit(
    client: httpx.Client,
    model: str,
    payload: dict[str, Any] | None = None,
    *,
    priority: int | None = None,
    info: dict[str, Any] | None = None,
) -> str:
    body: dict[str, Any] = {"model": model, "payload": payload if payload is not None else {}}
    if priority is not None:
        body["priority"] = priority
    if info is not None:
        body["info"] = info
    response = client.post("/v1/queue/submit", json=body)
    assert response.status_code == 200, response.text
    request_id = response.json()["requestId"]
    assert isinstance(request_id, str)
    return request_id


def status(client: httpx.Client, model: str, request_id: str) -> dict[str, Any]:
    response = client.get("/v1/queue/status", params={"model": model, "request_id": request_id})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_status(
    client: httpx.Client,
    model: str,
    request_id: str,
    statuses: Collection[str],
    *,
    timeout: float = 10.0,
) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        body = status(client, model, request_id)
        return body if body["status"] in statuses else None

    result: dict[str, Any] = wait_for(
        reached, timeout=timeout, what=f"{request_id} to be {'/'.join(statuses)}"
    )
    return result


def metrics(client: httpx.Client, model: str) -> tuple[int, int, int]:
    response = client.get("/v1/queue/metrics", params={"model": model})
    assert response.status_code == 200, response.text
    body = response.json()
    return body["messages_waiting"], body["messages_running"], body["total_jobs"]


def cancel(client: httpx.Client, model: str, request_id: str) -> httpx.Response:
    return client.post("/v1/queue/cancel", json={"model": model, "request_id": request_id})


def retrieve(
    client: httpx.Client, model: str, *, timeout: str = "0s", hostname: str = "test-worker"
) -> dict[str, Any] | None:
    response = client.get(
        "/internal/v1/rabbitmq/retrieve",
        params={"model": model, "timeout": timeout, "hostname": hostname},
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] | None = response.json()["data"]
    return data


def update(
    client: httpx.Client,
    model: str,
    request_id: str,
    new_status: str,
    *,
    payload: dict[str, Any] | None = None,
    info: dict[str, Any] | None = None,
    claim_id: str | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {"model": model, "request_id": request_id, "status": new_status}
    if payload is not None:
        body["payload"] = payload
    if info is not None:
        body["info"] = info
    if claim_id is not None:
        body["claim_id"] = claim_id
    return client.post("/internal/v1/videos/status", json=body)


def jobs(client: httpx.Client, model: str | None = None) -> list[dict[str, Any]]:
    params = {"model": model} if model else {}
    response = client.get("/_emulator/jobs", params=params)
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()["jobs"]
    return result


def claims(client: httpx.Client, model: str | None = None) -> list[dict[str, Any]]:
    params = {"model": model} if model else {}
    response = client.get("/_emulator/claims", params=params)
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()["claims"]
    return result
