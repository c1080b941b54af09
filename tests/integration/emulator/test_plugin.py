"""The pytest plugin (together_queue.testing) and serving the app in process."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import httpx

from together_queue.emulator import EmulatorConfig, EmulatorHandle, create_app

from .conftest import Factory
from .helpers import status, submit, wait_status


def test_queue_emulator_fixture_serves_builtin_models(queue_emulator: EmulatorHandle) -> None:
    assert queue_emulator.url.startswith("http://127.0.0.1:")
    assert queue_emulator.api_url == queue_emulator.url + "/v1"
    assert dict(queue_emulator.config.models) == {"echo": "echo", "sleep": "sleep", "fail": "fail"}
    with httpx.Client(base_url=queue_emulator.url, timeout=10) as client:
        rid = submit(client, "echo", {"ok": True})
        assert wait_status(client, "echo", rid, {"done"})["outputs"] == {"ok": True}


def test_factory_starts_independent_emulators(queue_emulator_factory: Factory) -> None:
    first = queue_emulator_factory()
    second = queue_emulator_factory(api_keys=("k",))
    assert first.url != second.url
    with httpx.Client(base_url=first.url, timeout=10) as client:
        rid = submit(client, "m", {})
        assert status(client, "m", rid)["status"] == "pending"
    with httpx.Client(base_url=second.url, timeout=10) as client:
        response = client.get("/v1/queue/status", params={"model": "m", "request_id": rid})
        assert response.status_code == 401


def test_importing_the_plugin_and_cli_loads_no_server_code() -> None:
    code = (
        "import sys, together_queue.testing, together_queue.emulator.cli, together_queue.emulator;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('starlette', 'uvicorn')))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert output.stdout.strip() == "[]"


def test_app_works_in_process_through_asgi_transport() -> None:
    async def scenario() -> None:
        app = create_app(EmulatorConfig(models={"echo": "echo"}))
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(
                transport=transport, base_url="http://localhost"
            ) as client:
                response = await client.post(
                    "/v1/queue/submit", json={"model": "echo", "payload": {"x": 1}}
                )
                rid = response.json()["requestId"]
                for _ in range(500):  # bounded: the in-process worker needs a few loop turns
                    body = (
                        await client.get(
                            "/v1/queue/status", params={"model": "echo", "request_id": rid}
                        )
                    ).json()
                    if body["status"] == "done":
                        break
                    await asyncio.sleep(0.01)
                assert body["outputs"] == {"x": 1}
        finally:
            await app.state.runtime.stop()

    asyncio.run(scenario())
