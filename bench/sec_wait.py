"""Section 4: waiting on 500 jobs: status requests per job and detection lag.

Two workloads: `sleep` jobs that report their progress, and the same jobs reporting none.
Ours (`wait_all`, defaults) is compared with fixed-interval polling at the interval that
spends the same status requests per job, calibrated on ours' own round.
"""

from __future__ import annotations

import asyncio
import collections
import datetime
import itertools
import math
import random
import time
from typing import Any

import httpx

from bench import clients
from bench.clients import AUTH
from bench.config import Config
from bench.emulator_proc import API_KEY, EmulatorProcess
from bench.report import Section, Table, Target
from bench.stats import Stat, fmt_ratio, percentile, ratio
from together_queue import AsyncJob, AsyncQueueClient, JobStatus, default_async_http_client

#: Workload -> model: `sleep` reports progress in steps, `quiet` reports none.
MODELS = {"progress": "sleep", "quiet": "quiet"}
HANDLERS = {"sleep": "sleep", "quiet": "bench.handlers:quiet_sleep"}
_WAIT_DEADLINE = 60.0
_MAX_POLLS = 1000  # per job, for the fixed-interval baseline


def durations(config: Config) -> list[float]:
    """The fixed-seed job durations (uniform between the configured bounds)."""
    rng = random.Random(config.wait_seed)
    lo, hi = config.wait_min_seconds, config.wait_max_seconds
    return [round(rng.uniform(lo, hi), 3) for _ in range(config.wait_jobs)]


def _epoch(value: str | datetime.datetime) -> float:
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value)
    return value.timestamp()


class _StatusCounter:
    """An httpx request hook counting GET /queue/status requests."""

    def __init__(self) -> None:
        self.by_id: collections.Counter[str] = collections.Counter()

    async def __call__(self, request: httpx.Request) -> None:
        if request.url.path.endswith("/queue/status"):
            self.by_id[request.url.params.get("request_id", "")] += 1


Result = tuple[list[int], list[float]]  # status requests per job (input order), lags
_CONCURRENCY = 16  # in-flight polls: `wait_all`'s default, given to the baseline too


async def submit_all(url: str, model: str, seconds: list[float]) -> list[str]:
    """Submit one sleep job per duration (raw httpx, bounded); request ids in input order.

    Both strategies start from jobs submitted this same way, so only waiting differs.
    """
    semaphore = asyncio.Semaphore(_CONCURRENCY)
    async with httpx.AsyncClient(headers=AUTH, timeout=60.0) as client:

        async def one(duration: float) -> str:
            async with semaphore:
                return await clients.araw_submit(client, url, model, {"seconds": duration})

        return list(await asyncio.gather(*(one(d) for d in seconds)))


Timed = tuple[list[int], list[float], dict[str, float], float]  # + done_at by id, wait start


async def _ours(url: str, model: str, ids: list[str]) -> Timed:
    counter = _StatusCounter()
    # The library's own client defaults, plus the counting hook.
    http = default_async_http_client(event_hooks={"request": [counter]})
    seen: dict[str, float] = {}

    def on_update(job: AsyncJob, status: JobStatus) -> None:
        if status.is_terminal:
            seen[job.request_id] = time.time()

    async with http, AsyncQueueClient(base_url=url, api_key=API_KEY, http_client=http) as client:
        jobs = [client.job(request_id, model=model) for request_id in ids]
        start = time.time()
        results = await client.wait_all(jobs, timeout=_WAIT_DEADLINE, on_update=on_update)
    lags = []
    done: dict[str, float] = {}
    for result in results:
        status = result.value
        if status is None or status.done_at is None:
            raise RuntimeError(f"a job did not finish: {result.error!r}")
        done[status.request_id] = _epoch(status.done_at)
        lags.append(seen[status.request_id] - done[status.request_id])
    return [counter.by_id[request_id] for request_id in ids], lags, done, start


def equal_cost_interval(remaining: list[float], requests_per_job: float) -> tuple[float, bool]:
    """The fixed interval whose polling spends `requests_per_job`, and whether it polls at once.

    `remaining` is each job's time from the start of waiting to its finish (<= 0: done).
    Polling at once and then every interval costs at least one request per job plus one per
    job still running, however long the interval; when ours spent less than that (jobs that
    finished while a slow submit ran are seen by one poll), the baseline's first poll waits
    an interval too, whose cost falls to one request per job.
    """

    def cost(interval: float, at_once: bool) -> float:
        if at_once:
            return sum(1 + max(0, math.ceil(r / interval)) for r in remaining) / len(remaining)
        return sum(max(1, math.ceil(r / interval)) for r in remaining) / len(remaining)

    high = 60.0
    at_once = cost(high, True) <= requests_per_job
    low = 0.001  # cost falls as the interval grows
    for _ in range(60):
        mid = (low + high) / 2
        if cost(mid, at_once) > requests_per_job:
            low = mid
        else:
            high = mid
    return high, at_once


async def _fixed(url: str, model: str, ids: list[str], interval: float, at_once: bool) -> Result:
    """Each job: GET its status at once (or after `interval`), then every `interval`; 16 at once."""
    polls: list[int] = [0] * len(ids)
    lags: list[float] = []
    semaphore = asyncio.Semaphore(_CONCURRENCY)
    first = 0 if at_once else 1
    async with httpx.AsyncClient(headers=AUTH, timeout=60.0) as client:

        async def wait_one(index: int) -> None:
            request_id = ids[index]
            begin = time.monotonic()
            for n in range(first, first + _MAX_POLLS):
                await asyncio.sleep(max(0.0, begin + n * interval - time.monotonic()))
                async with semaphore:
                    body: dict[str, Any] = await clients.araw_status(client, url, request_id, model)
                polls[index] += 1
                if body["status"] in ("done", "failed", "canceled"):
                    lags.append(time.time() - _epoch(body["done_at"]))
                    return
                if time.monotonic() - begin > _WAIT_DEADLINE:
                    break
            raise RuntimeError(f"job {request_id} not done within {_WAIT_DEADLINE} s")

        await asyncio.gather(*(wait_one(i) for i in range(len(ids))))
    return polls, lags


_STRATEGIES = ("ours", "fixed")


def run(config: Config) -> Section:
    """Per workload: ours, then fixed polling at ours' requests per job; `wait_repeats` rounds."""
    seconds = durations(config)
    keys = [(w, s) for w in MODELS for s in _STRATEGIES]
    per_job: dict[tuple[str, str], list[float]] = {k: [] for k in keys}
    median_lag: dict[tuple[str, str], list[float]] = {k: [] for k in keys}
    p95_lag: dict[tuple[str, str], list[float]] = {k: [] for k in keys}
    pooled: dict[tuple[str, str], list[tuple[float, int]]] = {k: [] for k in keys}
    intervals: dict[str, list[float]] = {w: [] for w in MODELS}
    delayed_first: dict[str, int] = dict.fromkeys(MODELS, 0)
    submit_seconds: list[float] = []
    models = {name: HANDLERS[name] for name in MODELS.values()}
    # One in-process worker per job, so every job starts at once and runs for its duration.
    with EmulatorProcess(models=models, workers=config.wait_jobs) as emulator:
        for _ in range(config.wait_repeats):
            for workload, model in MODELS.items():
                interval, at_once = 0.0, True
                for strategy in _STRATEGIES:
                    begin = time.perf_counter()
                    ids = asyncio.run(submit_all(emulator.url, model, seconds))
                    submit_seconds.append(time.perf_counter() - begin)
                    if strategy == "ours":
                        requests, lags, done, start = asyncio.run(_ours(emulator.url, model, ids))
                        remaining = [done[i] - start for i in ids]
                        interval, at_once = equal_cost_interval(remaining, sum(requests) / len(ids))
                        intervals[workload].append(interval)
                        delayed_first[workload] += not at_once
                    else:
                        requests, lags = asyncio.run(
                            _fixed(emulator.url, model, ids, interval, at_once)
                        )
                    key = (workload, strategy)
                    per_job[key].append(sum(requests) / len(seconds))
                    pooled[key] += list(zip(seconds, requests, strict=True))
                    median_lag[key].append(percentile(lags, 0.5))
                    p95_lag[key].append(percentile(lags, 0.95))
    req = {k: Stat.of(v) for k, v in per_job.items()}
    lag = {k: Stat.of(v) for k, v in median_lag.items()}
    p95 = {k: Stat.of(v) for k, v in p95_lag.items()}
    table = Table(["Workload", "Strategy", "status requests per job", "median lag s", "p95 lag s"])
    for workload, strategy in keys:
        label = (
            "ours: `wait_all` (defaults)"
            if strategy == "ours"
            else f"fixed interval ({Stat.of(intervals[workload]).fmt(2)} s), raw httpx"
        )
        key = (workload, strategy)
        table.add(workload, label, req[key].fmt(2), lag[key].fmt(3), p95[key].fmt(3))
    targets = [
        Target(
            f"{workload}: median lag, ours / fixed polling at equal requests",
            "< 1.0x",
            fmt_ratio(ratio(lag[workload, "ours"], lag[workload, "fixed"])),
            lag[workload, "ours"].median < lag[workload, "fixed"].median,
        )
        for workload in MODELS
    ]
    cost, late = req["progress", "ours"].median, lag["progress", "ours"].median
    targets.append(
        Target(
            "progress: ours, status requests per job and median lag",
            "<= 3 and <= 0.2 s",
            f"{cost:.2f}, {late:.3f} s",
            cost <= 3 and late <= 0.2,
        )
    )
    mean = sum(seconds) / len(seconds)
    return Section(
        key="wait",
        title="4. Waiting",
        intro=(
            f"{len(seconds)} jobs, durations uniform in "
            f"{config.wait_min_seconds}-{config.wait_max_seconds} s (seed {config.wait_seed}, "
            f"mean {mean:.2f} s), emulator with {config.wait_jobs} in-process workers so every "
            "job starts when submitted; two workloads: `progress` (the `sleep` model, which "
            "reports progress in quarters) and `quiet` (the same sleep, reporting nothing); "
            f"{config.wait_repeats} rounds. Each strategy gets its own freshly submitted jobs "
            f"(raw httpx, {_CONCURRENCY} in flight), then waits from the moment the last "
            "submit returned. Ours: `wait_all` on `client.job(...)` handles, default "
            "PollPolicy and concurrency (16); status requests counted by an httpx request "
            "hook. Fixed: raw httpx polling each job at once and then every interval, 16 "
            "polls in flight at most, at the interval that would have cost the requests per "
            "job ours spent in the same round (from when each job finished). Lag: the moment "
            "the caller saw the final status minus the job's `done_at` (same clock). Median "
            "over rounds of each round's median / p95."
        ),
        tables=[table, _by_duration(pooled, config)],
        targets=targets,
        notes=[
            f"Submitting the {len(seconds)} jobs took {Stat.of(submit_seconds).fmt(2)} s per "
            "round (median (min-max)); jobs run from their own submit, so the shortest are "
            "done before waiting starts (a lag no strategy can avoid) and the longest still "
            "running.",
            *(
                f"{workload}: in {n} of {config.wait_repeats} rounds ours spent fewer requests "
                "than polling at once and then at any interval can (one per job plus one per "
                "job still running), so the fixed baseline's first poll also waited an interval."
                for workload, n in delayed_first.items()
                if n
            ),
        ],
        data={
            "requests_per_job": {f"{w} {s}": v.values for (w, s), v in req.items()},
            "median_lag_s": {f"{w} {s}": v.values for (w, s), v in lag.items()},
            "p95_lag_s": {f"{w} {s}": v.values for (w, s), v in p95.items()},
            "fixed_interval_s": intervals,
            "durations": seconds,
        },
    )


def _by_duration(pooled: dict[tuple[str, str], list[tuple[float, int]]], config: Config) -> Table:
    """Mean status requests per job by job duration, pooled over rounds: where polls go."""
    lo, hi = config.wait_min_seconds, config.wait_max_seconds
    edges = [lo + (hi - lo) * k / 5 for k in range(6)]
    keys = list(pooled)
    table = Table(["Job duration s", *(f"{w} {s}: requests/job" for w, s in keys)])
    for left, right in itertools.pairwise(edges):
        cells = []
        for key in keys:
            counts = [n for d, n in pooled[key] if left <= d < right or (right == hi and d == hi)]
            cells.append(f"{sum(counts) / len(counts):.2f}" if counts else "-")
        table.add(f"{left:.1f}-{right:.1f}", *cells)
    return table
