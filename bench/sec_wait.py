"""Section 4: waiting on 500 `sleep` jobs: status requests per job and detection lag."""

from __future__ import annotations

import asyncio
import collections
import datetime
import itertools
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
from together_queue import AsyncJob, AsyncQueueClient, JobStatus

MODEL = "sleep"
_FIXED_INTERVAL = 1.0
_WAIT_DEADLINE = 60.0
_MAX_POLLS = 100  # per job, for the fixed-interval baseline


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


async def submit_all(url: str, seconds: list[float]) -> list[str]:
    """Submit one sleep job per duration (raw httpx, bounded); request ids in input order.

    Both strategies start from jobs submitted this same way, so only waiting differs.
    """
    semaphore = asyncio.Semaphore(_CONCURRENCY)
    async with httpx.AsyncClient(headers=AUTH, timeout=60.0) as client:

        async def one(duration: float) -> str:
            async with semaphore:
                return await clients.araw_submit(client, url, MODEL, {"seconds": duration})

        return list(await asyncio.gather(*(one(d) for d in seconds)))


async def _ours(url: str, ids: list[str]) -> Result:
    counter = _StatusCounter()
    # Our client's own pool settings, plus the counting hook (the public http_client seam).
    http = httpx.AsyncClient(
        event_hooks={"request": [counter]},
        timeout=httpx.Timeout(60.0, connect=10.0),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=32),
    )
    seen: dict[str, float] = {}

    def on_update(job: AsyncJob, status: JobStatus) -> None:
        if status.is_terminal:
            seen[job.request_id] = time.time()

    async with http, AsyncQueueClient(base_url=url, api_key=API_KEY, http_client=http) as client:
        jobs = [client.job(request_id, model=MODEL) for request_id in ids]
        results = await client.wait_all(jobs, timeout=_WAIT_DEADLINE, on_update=on_update)
    lags = []
    for result in results:
        status = result.value
        if status is None or status.done_at is None:
            raise RuntimeError(f"a job did not finish: {result.error!r}")
        lags.append(seen[status.request_id] - _epoch(status.done_at))
    return [counter.by_id[request_id] for request_id in ids], lags


async def _fixed(url: str, ids: list[str]) -> Result:
    """Each job: GET its status every second until it is final (at most 16 in flight)."""
    polls: list[int] = [0] * len(ids)
    lags: list[float] = []
    semaphore = asyncio.Semaphore(_CONCURRENCY)
    async with httpx.AsyncClient(headers=AUTH, timeout=60.0) as client:

        async def wait_one(index: int) -> None:
            request_id = ids[index]
            deadline = time.monotonic() + _WAIT_DEADLINE
            for _ in range(_MAX_POLLS):
                await asyncio.sleep(_FIXED_INTERVAL)
                async with semaphore:
                    body: dict[str, Any] = await clients.araw_status(client, url, request_id, MODEL)
                polls[index] += 1
                if body["status"] in ("done", "failed", "canceled"):
                    lags.append(time.time() - _epoch(body["done_at"]))
                    return
                if time.monotonic() > deadline:
                    break
            raise RuntimeError(f"job {request_id} not done within {_WAIT_DEADLINE} s")

        await asyncio.gather(*(wait_one(i) for i in range(len(ids))))
    return polls, lags


def run(config: Config) -> Section:
    """Ours (`wait_all`, defaults) and fixed 1 s polling, `config.wait_repeats` rounds each."""
    seconds = durations(config)
    per_job: dict[str, list[float]] = {"ours": [], "fixed": []}
    median_lag: dict[str, list[float]] = {"ours": [], "fixed": []}
    p95_lag: dict[str, list[float]] = {"ours": [], "fixed": []}
    pooled: dict[str, list[tuple[float, int]]] = {"ours": [], "fixed": []}
    submit_seconds: list[float] = []
    # One in-process worker per job, so every job starts at once and runs for its duration.
    with EmulatorProcess(models={MODEL: "sleep"}, workers=config.wait_jobs) as emulator:
        for _ in range(config.wait_repeats):
            for name, strategy in (("ours", _ours), ("fixed", _fixed)):
                begin = time.perf_counter()
                ids = asyncio.run(submit_all(emulator.url, seconds))
                submit_seconds.append(time.perf_counter() - begin)
                requests, lags = asyncio.run(strategy(emulator.url, ids))
                per_job[name].append(sum(requests) / len(seconds))
                for duration, n in zip(seconds, requests, strict=True):
                    pooled[name].append((duration, n))
                median_lag[name].append(percentile(lags, 0.5))
                p95_lag[name].append(percentile(lags, 0.95))
    req = {k: Stat.of(v) for k, v in per_job.items()}
    lag = {k: Stat.of(v) for k, v in median_lag.items()}
    p95 = {k: Stat.of(v) for k, v in p95_lag.items()}
    fewer = ratio(req["fixed"], req["ours"])
    table = Table(
        [
            "Strategy",
            "status requests per job",
            "median lag s",
            "p95 lag s",
            "requests vs fixed 1 s",
        ]
    )
    labels = {"ours": "ours: `wait_all` (default PollPolicy)", "fixed": "fixed 1 s polling (raw)"}
    for name in per_job:
        table.add(
            labels[name],
            req[name].fmt(2),
            lag[name].fmt(3),
            p95[name].fmt(3),
            fmt_ratio(ratio(req[name], req["fixed"])),
        )
    mean = sum(seconds) / len(seconds)
    return Section(
        key="wait",
        title="4. Waiting",
        intro=(
            f"{len(seconds)} jobs on the `sleep` model, durations uniform in "
            f"{config.wait_min_seconds}-{config.wait_max_seconds} s (seed {config.wait_seed}, "
            f"mean {mean:.2f} s), emulator with {config.wait_jobs} in-process workers so every "
            f"job starts when submitted; {config.wait_repeats} rounds. Each strategy gets its own "
            f"freshly submitted jobs (raw httpx, {_CONCURRENCY} in flight), then waits from "
            "the moment the last submit returned. Ours: `wait_all` on `client.job(...)` "
            "handles, default PollPolicy and concurrency (16); status requests are counted by an "
            "httpx request hook. Baseline (raw httpx): every job polled every 1 s, 16 polls in "
            "flight at most. Lag: the moment the caller saw the "
            "final status minus the job's `done_at` (same clock). Median over rounds of each "
            "round's median / p95."
        ),
        tables=[table, _by_duration(pooled, config)],
        targets=[
            Target("status requests, fixed 1 s / ours", ">= 3x", fmt_ratio(fewer), fewer >= 3),
            Target(
                "median detection lag, ours",
                "< 0.5 s",
                f"{lag['ours'].median:.3f} s",
                lag["ours"].median < 0.5,
            ),
        ],
        notes=[
            "A lower bound for context: every job needs at least one status request, and a "
            "fixed 1 s poll costs about floor(duration) + 1 requests per job "
            f"(~{sum(int(s) + 1 for s in seconds) / len(seconds):.2f} here), so `>= 3x fewer` "
            "asks for close to one request per job.",
            f"Submitting the {len(seconds)} jobs took {Stat.of(submit_seconds).fmt(2)} s per "
            "round (median (min-max)); jobs run from their own submit, so the longest ones are "
            "still running when waiting starts.",
        ],
        data={
            "requests_per_job": {k: v.values for k, v in req.items()},
            "median_lag_s": {k: v.values for k, v in lag.items()},
            "p95_lag_s": {k: v.values for k, v in p95.items()},
            "durations": seconds,
        },
    )


def _by_duration(pooled: dict[str, list[tuple[float, int]]], config: Config) -> Table:
    """Mean status requests per job by job duration, pooled over rounds: where polls go."""
    lo, hi = config.wait_min_seconds, config.wait_max_seconds
    edges = [lo + (hi - lo) * k / 5 for k in range(6)]
    table = Table(
        ["Job duration s", "jobs (all rounds)", "ours: requests/job", "fixed 1 s: requests/job"]
    )
    for left, right in itertools.pairwise(edges):
        cells = []
        for name in ("ours", "fixed"):
            counts = [n for d, n in pooled[name] if left <= d < right or (right == hi and d == hi)]
            cells.append(f"{sum(counts) / len(counts):.2f}" if counts else "-")
        jobs = sum(1 for d, _ in pooled["ours"] if left <= d < right or (right == hi and d == hi))
        table.add(f"{left:.1f}-{right:.1f}", jobs, *cells)
    return table
