"""A caller that goes away in the middle of its request body (a Ctrl-C mid-send)."""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

import httpx
import pytest

from together_queue.emulator.app import create_app
from together_queue.emulator.config import EmulatorConfig

BODY = b'{"model": "gone", "payload": {"n": 1}}'


def _scope(path: str) -> dict[str, Any]:
    headers = [
        (b"host", b"127.0.0.1"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(BODY)).encode()),
    ]
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": headers, "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }  # fmt: skip


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_a_client_gone_mid_body_is_a_debug_line_and_stores_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = create_app(EmulatorConfig())
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": BODY[:10], "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        pass  # nobody is there to read it

    async with app.router.lifespan_context(app):
        with caplog.at_level(logging.DEBUG, logger="together_queue.emulator"):
            # Before: ClientDisconnect escaped the app, which the server logs as a traceback.
            await app(_scope("/v1/queue/submit"), receive, send)
        assert "the client disconnected before its body was read" in caplog.text
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            metrics = await client.get("/v1/queue/metrics", params={"model": "gone"})
    assert metrics.status_code == 200
    assert metrics.json()["total_jobs"] == 0
