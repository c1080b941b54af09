"""The official SDK's own clear (together 3.1.1) against the emulator: the wire agrees."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from together_queue.emulator import EmulatorHandle

together = pytest.importorskip("together", reason="the official SDK: requirements/bench.txt")

Factory = Callable[..., EmulatorHandle]
KEY = "sdk-test-key"


def test_official_sdk_clear(queue_emulator_factory: Factory) -> None:
    handle = queue_emulator_factory(api_keys=(KEY,))
    # The SDK's base URL is the host root: it adds /v1/queue/clear itself.
    sdk = together.Together(api_key=KEY, base_url=handle.url, max_retries=0)
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=handle.url, headers=headers, timeout=10) as http:

        def submit(i: int) -> str:
            body = {"model": "m", "payload": {"i": i}}
            request_id: str = http.post("/v1/queue/submit", json=body).json()["requestId"]
            return request_id

        running = submit(0)
        claim = http.get(
            "/internal/v1/rabbitmq/retrieve", params={"model": "m", "timeout": "0s"}
        ).json()["data"]
        assert claim["request_id"] == running
        pending = [submit(i) for i in range(1, 5)]

        result = sdk.beta.jig.queue.clear(model="m")
        assert result.canceled_count == 4

        def status(rid: str) -> str:
            params = {"model": "m", "request_id": rid}
            value: str = http.get("/v1/queue/status", params=params).json()["status"]
            return value

        assert [status(rid) for rid in pending] == ["canceled"] * 4
        assert status(running) == "running"
        done = http.post(
            "/internal/v1/videos/status",
            json={"model": "m", "request_id": running, "status": "done", "payload": {}},
        )
        assert done.status_code == 200
        assert status(running) == "done"
        assert sdk.beta.jig.queue.clear(model="m").canceled_count == 0
    sdk.close()
