"""The pytest plugin (together_queue.testing) and serving the app in process."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

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


_WITHOUT_THE_EXTRA = '''
import importlib.abc
import sys
from pathlib import Path


class _Absent(importlib.abc.MetaPathFinder):
    """The [emulator] extra is not installed: starlette and uvicorn cannot be imported."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("starlette", "uvicorn"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _Absent())
'''


def test_the_fixtures_without_the_emulator_extra_say_what_to_install(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(_WITHOUT_THE_EXTRA)
    (tmp_path / "test_mine.py").write_text(
        "def test_uses_the_emulator(queue_emulator):\n    assert queue_emulator.url\n"
    )

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 1, result.stdout + result.stderr
    assert "pip install 'together-queue[emulator]'" in result.stdout
    assert "No module named 'uvicorn'" in result.stdout or "starlette" in result.stdout
    assert "Traceback" not in result.stdout
