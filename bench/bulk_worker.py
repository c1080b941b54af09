"""One bulk-submit run in a fresh process, so that its peak memory is its own.

`python -m bench.bulk_worker VARIANT URL MODEL N CONCURRENCY` prints one JSON line:
seconds, jobs submitted, errors, client CPU seconds, RSS before and peak RSS.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import httpx

from bench import clients, procmem
from bench.clients import AUTH
from bench.emulator_proc import API_KEY
from together_queue import AsyncQueueClient


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


async def _raw(url: str, model: str, payloads: list[dict[str, Any]], limit: int) -> int:
    async with httpx.AsyncClient(headers=AUTH) as client:
        calls = [(lambda p=p: clients.araw_submit(client, url, model, p)) for p in payloads]
        return await _bounded(limit, calls)


async def _raw_like_ours(url: str, model: str, payloads: list[dict[str, Any]], limit: int) -> int:
    """Raw httpx with our client's pool limits: separates pool cost from our own code."""
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=32)
    async with httpx.AsyncClient(headers=AUTH, limits=limits) as client:
        calls = [(lambda p=p: clients.araw_submit(client, url, model, p)) for p in payloads]
        return await _bounded(limit, calls)


async def _sdk(url: str, model: str, payloads: list[dict[str, Any]], limit: int) -> int:
    import together

    async with together.AsyncTogether(api_key=API_KEY, base_url=url) as client:
        calls = [
            (lambda p=p: client.beta.jig.queue.submit(model=model, payload=p)) for p in payloads
        ]
        return await _bounded(limit, calls)


RUNNERS = {"ours": _ours, "raw": _raw, "raw-pool-32": _raw_like_ours, "sdk": _sdk}


def main(argv: list[str]) -> int:
    """Run one variant; print its JSON line."""
    variant, url, model, count, limit = argv[0], argv[1], argv[2], int(argv[3]), int(argv[4])
    payloads = [{"i": i} for i in range(count)]
    rss_before = procmem.rss_bytes()
    wall, cpu = time.perf_counter(), time.process_time()
    ok = asyncio.run(RUNNERS[variant](url, model, payloads, limit))
    result = {
        "seconds": time.perf_counter() - wall,
        "cpu_seconds": time.process_time() - cpu,
        "ok": ok,
        "errors": count - ok,
        "rss_before": rss_before,
        "rss_peak": procmem.peak_rss_bytes(),
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
