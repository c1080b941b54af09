"""One run of the scale section in a fresh process, so that its peak memory is its own.

`python -m bench.scale_worker lib URL MODEL N CONCURRENCY adaptive|fixed` streams N
generated payloads through `QueueClient.submit_iter` (`alib`: `AsyncQueueClient.submit_iter`,
the engine the CLI submits with); `python -m bench.scale_worker cli
URL MODEL FILE OUTPUT CONCURRENCY` runs `together-queue submit --file` in this process.
Either prints one JSON line last: seconds, ok, errors, 429s received, RSS before and peak.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
from typing import Any

from bench import procmem
from bench.emulator_proc import API_KEY


def _lib(url: str, model: str, count: int, limit: int, adaptive: bool) -> dict[str, Any]:
    from together_queue import QueueClient

    ok = errors = 0
    with QueueClient(base_url=url, api_key=API_KEY) as client:
        payloads = ({"i": i} for i in range(count))  # a generator: nothing held per item
        with client.submit_iter(
            payloads, model=model, concurrency=limit, adaptive=adaptive
        ) as stream:
            for outcome in stream:
                if outcome.ok:
                    ok += 1
                else:
                    errors += 1
        return {"ok": ok, "errors": errors, "rate_limited": stream.limit.rate_limited}


def _alib(url: str, model: str, count: int, limit: int, adaptive: bool) -> dict[str, Any]:
    import asyncio

    from together_queue import AsyncQueueClient

    async def run() -> dict[str, Any]:
        ok = errors = 0
        async with AsyncQueueClient(base_url=url, api_key=API_KEY) as client:
            payloads = ({"i": i} for i in range(count))
            async with client.submit_iter(
                payloads, model=model, concurrency=limit, adaptive=adaptive
            ) as stream:
                async for outcome in stream:
                    if outcome.ok:
                        ok += 1
                    else:
                        errors += 1
            return {"ok": ok, "errors": errors, "rate_limited": stream.limit.rate_limited}

    return asyncio.run(run())


def _cli(url: str, model: str, file: str, output: str, limit: int) -> dict[str, Any]:
    from together_queue.cli import main

    os.environ["TOGETHER_BASE_URL"] = url
    os.environ["TOGETHER_API_KEY"] = API_KEY
    words = ["submit", "--file", file, "--model", model, "--concurrency", str(limit)]
    wall = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = main([*words, "--output", output])
    # The CLI's time and peak, taken before the counting below (the bench's work, not its).
    seconds, peak = time.perf_counter() - wall, procmem.peak_rss_bytes()
    ok = records = 0
    with open(output, encoding="utf-8") as handle:
        for line in handle:  # counted as read: no list of 200,000 statuses
            records += 1
            ok += json.loads(line).get("status") == "submitted"
    result = {"ok": ok, "errors": records - 1 - ok, "rate_limited": 0, "exit": code}
    return result | {"seconds": seconds, "rss_peak": peak}


def main(argv: list[str]) -> int:
    """Run one measurement; print its JSON line."""
    # Imports first, outside the clock: the CLI and the library are timed at work.
    import together_queue.cli
    import together_queue.cli.bulk
    import together_queue.client  # noqa: F401

    rss_before = procmem.rss_bytes()
    wall = time.perf_counter()
    if argv[0] in ("lib", "alib"):
        url, model, count, limit = argv[1], argv[2], int(argv[3]), int(argv[4])
        engine = _lib if argv[0] == "lib" else _alib
        result = engine(url, model, count, limit, argv[5] == "adaptive")
    else:
        result = _cli(argv[1], argv[2], argv[3], argv[4], int(argv[5]))
    result.setdefault("seconds", time.perf_counter() - wall)
    result.setdefault("rss_peak", procmem.peak_rss_bytes())
    result["rss_before"] = rss_before
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
