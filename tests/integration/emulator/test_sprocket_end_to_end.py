"""Both halves offline: sprocket-style workers and QueueClient against one TLS emulator.

This is the issue's "done when": the emulator runs with TLS, an API key and a short
``--claim-timeout`` (2 s); a sync worker, an async worker whose 5 s job outlives that
lease, and a worker returning a file output all serve jobs submitted with QueueClient,
which trusts the emulator's CA through ``SSL_CERT_FILE`` as a user would.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from together_queue import QueueClient

from .conftest import Factory
from .sprocket_worker import FileOutput, SprocketLikeWorker, WorkerThread

KEY = "K"


@pytest.mark.slow
def test_unmodified_style_workers_serve_queue_client_jobs_over_tls(
    queue_emulator_factory: Factory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    emulator = queue_emulator_factory(tls=True, api_keys=[KEY], claim_timeout=2)
    assert emulator.ca_file is not None
    monkeypatch.setenv("SSL_CERT_FILE", emulator.ca_file)
    base = emulator.url.removeprefix("https://")  # what TOGETHER_API_BASE_URL holds

    async def slow(payload: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(5)  # longer than --claim-timeout 2: the 90 s claim holds it
        return {"slept": 5}

    picture = tmp_path / "out.png"
    picture_bytes = bytes(range(256)) * 40

    def draw(payload: dict[str, Any]) -> dict[str, Any]:
        picture.write_bytes(picture_bytes)
        return {"image": FileOutput(picture), "caption": payload["caption"]}

    workers = [
        # A sync Sprocket: no claim_timeout, no heartbeat.
        SprocketLikeWorker(base, "sync-m", KEY, predict=lambda p: {"sum": p["a"] + p["b"]}),
        # An AsyncSprocket, as the SDK runs it: claim_timeout=90, a heartbeat every 45 s.
        SprocketLikeWorker(base, "async-m", KEY, predict=slow, claim_timeout=90, heartbeat=45),
        SprocketLikeWorker(base, "file-m", KEY, predict=draw),
    ]
    with QueueClient(api_key=KEY, base_url=emulator.url) as client:
        sync_job = client.submit("sync-m", {"a": 2, "b": 3})
        async_job = client.submit("async-m", {})
        file_job = client.submit("file-m", {"caption": "hi"})
        threads = [WorkerThread(worker, jobs=1).__enter__() for worker in workers]
        try:
            for thread in threads:
                thread.join(30)
        finally:
            for thread in threads:
                thread.stop()
        sync_done = client.wait(sync_job, timeout=10)
        async_done = client.wait(async_job, timeout=10)
        file_done = client.wait(file_job, timeout=10)

    assert sync_done.outputs == {"sum": 5}
    assert (async_done.outputs, async_done.retries) == ({"slept": 5}, 0)
    assert file_done.outputs is not None and file_done.outputs["caption"] == "hi"
    url = file_done.outputs["image"]
    assert url == f"{emulator.url}/v1/storage/{file_job.request_id}-out.png"
    # Ran exactly once each: one claim per job.
    claims = emulator.runtime.store.claims()
    assert sorted(c.request_id for c in claims) == sorted(
        [sync_job.request_id, async_job.request_id, file_job.request_id]
    )
    # The worker logs would show no failed retrieve or update call.
    assert [w.failures for w in workers] == [[], [], []]
    _assert_download(emulator.url, url, picture_bytes, tmp_path)


def _assert_download(root: str, url: str, expected: bytes, tmp_path: Path) -> None:
    """The file output downloads byte for byte (the key goes to the API origin only)."""
    with QueueClient(api_key=KEY, base_url=root) as client:
        dest = tmp_path / "downloaded.png"
        client.download(url, dest)
        assert dest.read_bytes() == expected
