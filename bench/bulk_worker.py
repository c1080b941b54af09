"""One bulk-submit run in a fresh process, so that its peak memory is its own.

`python -m bench.bulk_worker VARIANT URL MODEL N CONCURRENCY` prints one JSON line:
seconds, jobs submitted, errors, client CPU seconds, RSS before and peak RSS, and the
connections the run opened (one per request when a pool does not keep them).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import sys
import time
from collections.abc import Callable
from typing import Any

import httpcore
import httpx

from bench import clients, procmem
from bench.clients import AUTH
from bench.emulator_proc import API_KEY
from together_queue import AsyncQueueClient, QueueClient
from together_queue._pool import async_transport

#: Keep-alive for every connection the pool may open: reuse, under httpcore's own pass.
REUSE_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=100)
_opened = [0]


def _count_connections() -> None:
    """Count every connection httpcore opens in this process (both pool kinds)."""
    for cls in (httpcore.AsyncHTTPConnection, httpcore.HTTPConnection):
        init = cls.__init__

        def counted(self: Any, *args: Any, _init: Any = init, **kwargs: Any) -> None:
            _opened[0] += 1
            _init(self, *args, **kwargs)

        cls.__init__ = counted  # type: ignore[method-assign]


async def _ours(url: str, model: str, payloads: list[dict[str, Any]], limit: int) -> int:
    async with AsyncQueueClient(base_url=url, api_key=API_KEY) as client:
        outcomes = await client.submit_many(payloads, model=model, concurrency=limit)
    return sum(outcome.ok for outcome in outcomes)


async def _bounded(limit: int, calls: list[Any]) -> int:
    """Await every call with at most `limit` in flight (a semaphore); count the successes."""
    semaphore = asyncio.Semaphore(limit)

    async def one(call: Any) -> bool:
        async with semaphore:
            try:
                await call()
            except Exception:
                return False
            return True

    results = await asyncio.gather(*(one(call) for call in calls))
    return sum(results)


async def _raw_with(
    client: httpx.AsyncClient, url: str, model: str, payloads: list[dict[str, Any]], limit: int
) -> int:
    async with client:
        calls = [(lambda p=p: clients.araw_submit(client, url, model, p)) for p in payloads]
        return await _bounded(limit, calls)


async def _raw(url: str, model: str, payloads: list[dict[str, Any]], limit: int) -> int:
    return await _raw_with(httpx.AsyncClient(headers=AUTH), url, model, payloads, limit)


async def _raw_reuse(url: str, model: str, payloads: list[dict[str, Any]], limit: int) -> int:
    """Raw httpx keeping every connection alive: httpcore's own pass, connections reused."""
    http = httpx.AsyncClient(headers=AUTH, limits=REUSE_LIMITS)
    return await _raw_with(http, url, model, payloads, limit)


async def _raw_fair(url: str, model: str, payloads: list[dict[str, Any]], limit: int) -> int:
    """As raw-reuse, with our pool's assignment pass (`together_queue._pool`)."""
    http = httpx.AsyncClient(headers=AUTH, transport=async_transport(REUSE_LIMITS))
    return await _raw_with(http, url, model, payloads, limit)


async def _sdk(url: str, model: str, payloads: list[dict[str, Any]], limit: int) -> int:
    import together

    async with together.AsyncTogether(api_key=API_KEY, base_url=url) as client:
        calls = [
            (lambda p=p: client.beta.jig.queue.submit(model=model, payload=p)) for p in payloads
        ]
        return await _bounded(limit, calls)


def _ours_sync(url: str, model: str, payloads: list[dict[str, Any]], limit: int) -> int:
    with QueueClient(base_url=url, api_key=API_KEY) as client:
        outcomes = client.submit_many(payloads, model=model, concurrency=limit)
    return sum(outcome.ok for outcome in outcomes)


def _raw_threads(url: str, model: str, payloads: list[dict[str, Any]], limit: int) -> int:
    """Bare `httpx.Client` (defaults) shared by a thread pool of the same size."""
    with httpx.Client(headers=AUTH) as client:

        def one(payload: dict[str, Any]) -> bool:
            try:
                response = client.post(
                    f"{url}/v1/queue/submit", json={"model": model, "payload": payload}
                )
                response.raise_for_status()
            except Exception:
                return False
            return True

        with concurrent.futures.ThreadPoolExecutor(limit) as threads:
            return sum(threads.map(one, payloads))


Runner = Callable[[str, str, list[dict[str, Any]], int], Any]
ASYNC_RUNNERS: dict[str, Runner] = {
    "ours": _ours,
    "raw": _raw,
    "sdk": _sdk,
    "raw-reuse": _raw_reuse,
    "raw-fair": _raw_fair,
}
SYNC_RUNNERS: dict[str, Runner] = {"ours-sync": _ours_sync, "raw-threads": _raw_threads}


def main(argv: list[str]) -> int:
    """Run one variant; print its JSON line."""
    variant, url, model, count, limit = argv[0], argv[1], argv[2], int(argv[3]), int(argv[4])
    payloads = [{"i": i} for i in range(count)]
    _count_connections()
    rss_before = procmem.rss_bytes()
    wall, cpu = time.perf_counter(), time.process_time()
    if variant in SYNC_RUNNERS:
        ok = SYNC_RUNNERS[variant](url, model, payloads, limit)
    else:
        ok = asyncio.run(ASYNC_RUNNERS[variant](url, model, payloads, limit))
    result = {
        "seconds": time.perf_counter() - wall,
        "cpu_seconds": time.process_time() - cpu,
        "ok": ok,
        "errors": count - ok,
        "rss_before": rss_before,
        "rss_peak": procmem.peak_rss_bytes(),
        "connections": _opened[0],
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
