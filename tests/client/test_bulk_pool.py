"""The client's connection pool under many requests in flight, over HTTP to the emulator."""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any

import httpcore
import httpx
import pytest

from together_queue._config import DEFAULT_LIMITS
from together_queue._pool import async_transport, sync_transport
from together_queue.emulator import start_emulator

REQUESTS = 300
IN_FLIGHT = 32


class Counts:
    """Connections a pool opened, and requests started on them (one each when none raced)."""

    def __init__(self, pool: Any) -> None:
        self.opened = 0
        self.started = 0
        create = pool.create_connection

        def counted(origin: Any) -> Any:
            connection = create(origin)
            self.opened += 1
            name = (
                "handle_async_request"
                if hasattr(connection, "handle_async_request")
                else "handle_request"
            )
            handle = getattr(connection, name)

            def handle_counted(request: Any) -> Any:
                self.started += 1
                return handle(request)

            setattr(connection, name, handle_counted)
            return connection

        pool.create_connection = counted


def _submit_body(n: int) -> dict[str, Any]:
    return {"model": "held", "payload": {"n": n}}


@pytest.mark.anyio
async def test_async_pool_reuses_connections_and_gives_each_to_one_request() -> None:
    transport = async_transport(DEFAULT_LIMITS)
    counts = Counts(transport._pool)
    with start_emulator(models={}) as emulator:
        async with httpx.AsyncClient(transport=transport, base_url=emulator.url) as http:
            gate = asyncio.Semaphore(IN_FLIGHT)

            async def submit(n: int) -> int:
                async with gate:
                    response = await http.post("/v1/queue/submit", json=_submit_body(n))
                    return response.status_code

            codes = await asyncio.gather(*(submit(n) for n in range(REQUESTS)))
    assert codes == [200] * REQUESTS
    # httpcore's own pass: one new connection per request (keep-alive counted against all
    # connections) or requests racing for one idle connection, each race a failed start.
    assert counts.opened <= IN_FLIGHT
    assert counts.started == REQUESTS


def test_sync_pool_reuses_connections_and_gives_each_to_one_request() -> None:
    transport = sync_transport(DEFAULT_LIMITS)
    counts = Counts(transport._pool)
    with start_emulator(models={}) as emulator:
        with httpx.Client(transport=transport, base_url=emulator.url) as http:

            def submit(n: int) -> int:
                return http.post("/v1/queue/submit", json=_submit_body(n)).status_code

            with concurrent.futures.ThreadPoolExecutor(IN_FLIGHT) as threads:
                codes = list(threads.map(submit, range(REQUESTS)))
    assert codes == [200] * REQUESTS
    assert counts.opened <= IN_FLIGHT
    assert counts.started == REQUESTS


def _pools(http: httpx.Client | httpx.AsyncClient) -> list[Any]:
    transports = [http._transport, *http._mounts.values()]
    return [getattr(transport, "_pool", None) for transport in transports]


@pytest.mark.anyio
async def test_a_clients_own_pools_use_the_fair_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    from together_queue import AsyncQueueClient, QueueClient
    from together_queue._pool import _AsyncPool, _SyncPool

    with QueueClient(base_url="http://127.0.0.1:9", api_key="k") as client:
        assert {type(pool) for pool in _pools(client._http)} == {_SyncPool}
    async with AsyncQueueClient(base_url="http://127.0.0.1:9", api_key="k") as aclient:
        assert {type(pool) for pool in _pools(aclient._http)} == {_AsyncPool}
    # An environment proxy keeps its own pool: only plain pools get the pass.
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    with QueueClient(base_url="https://queue.example", api_key="k") as remote:
        kinds = {type(pool) for pool in _pools(remote._http)}
    assert kinds == {_SyncPool, httpcore.HTTPProxy}
