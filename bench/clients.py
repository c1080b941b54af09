"""The three ways to talk to the Queue API, built the same way everywhere in the benchmarks.

`ours` is together_queue with default settings, `raw` is bare httpx doing the same
HTTP calls (the floor), `sdk` is the official `together` package with its defaults.
Every one sends the same `Authorization` header.
"""

from __future__ import annotations

import importlib.util
import time
from typing import Any

import httpx

from bench.emulator_proc import API_KEY

AUTH = {"Authorization": f"Bearer {API_KEY}"}
VARIANTS = ("ours", "raw", "sdk")


def sdk_available() -> bool:
    """Whether the official SDK is installed (its rows are skipped otherwise)."""
    return importlib.util.find_spec("together") is not None


def variants() -> tuple[str, ...]:
    """The variants this environment can run."""
    return VARIANTS if sdk_available() else ("ours", "raw")


def raw_status(client: httpx.Client, url: str, request_id: str, model: str) -> dict[str, Any]:
    """GET /v1/queue/status with bare httpx; the parsed body."""
    response = client.get(
        f"{url}/v1/queue/status", params={"request_id": request_id, "model": model}
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


async def araw_status(
    client: httpx.AsyncClient, url: str, request_id: str, model: str
) -> dict[str, Any]:
    """Async twin of `raw_status`."""
    response = await client.get(
        f"{url}/v1/queue/status", params={"request_id": request_id, "model": model}
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


async def araw_submit(
    client: httpx.AsyncClient, url: str, model: str, payload: dict[str, Any]
) -> str:
    """POST /v1/queue/submit with bare httpx; the request id."""
    response = await client.post(
        f"{url}/v1/queue/submit", json={"model": model, "payload": payload}
    )
    response.raise_for_status()
    request_id: str = response.json()["requestId"]
    return request_id


def finished_job(url: str, model: str, deadline: float = 30.0) -> str:
    """Submit one job to `model` and wait (bounded) until it is done; its request id."""
    with httpx.Client(headers=AUTH, timeout=30.0) as client:
        response = client.post(f"{url}/v1/queue/submit", json={"model": model, "payload": {}})
        response.raise_for_status()
        request_id: str = response.json()["requestId"]
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if raw_status(client, url, request_id, model)["status"] == "done":
                return request_id
            time.sleep(0.01)
    raise RuntimeError(f"job {request_id} of {model} not done within {deadline} s")
