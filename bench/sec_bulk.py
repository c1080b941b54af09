"""Section 3: 10,000 submits at concurrency 64: jobs per second and peak memory."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any

from bench import clients, profiling
from bench.config import Config
from bench.emulator_proc import API_KEY, EmulatorProcess
from bench.procmem import MIB
from bench.report import Section, Table, Target
from bench.stats import Stat, fmt_ratio, ratio
from together_queue import AsyncQueueClient

_RUN_DEADLINE = 300.0


def _one_run(variant: str, url: str, model: str, config: Config) -> dict[str, Any]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.bulk_worker",
            variant,
            url,
            model,
            str(config.bulk_jobs),
            str(config.bulk_concurrency),
        ],
        capture_output=True,
        text=True,
        timeout=_RUN_DEADLINE,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run(config: Config) -> Section:
    """Each variant `config.bulk_repeats` times, interleaved, each in a fresh process."""
    # raw-pool-32: raw httpx with our client's Limits(100, keepalive 32), a diagnostic row.
    names = (*clients.variants(), "raw-pool-32")
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    held: dict[str, list[int]] = {name: [] for name in names}
    profile = ""
    # No model handler: jobs stay pending, so no worker competes with the submits for CPU.
    with EmulatorProcess(models={}, workers=0) as emulator:
        for round_ in range(config.bulk_repeats):
            for variant in names:
                model = f"bulk-{variant}-{round_}"
                runs[variant].append(_one_run(variant, emulator.url, model, config))
                held[variant].append(int(emulator.metrics(model)["messages_waiting"]))
        rate = {n: Stat.of([config.bulk_jobs / r["seconds"] for r in runs[n]]) for n in names}
        cpu = {n: Stat.of([r["cpu_seconds"] / config.bulk_jobs for r in runs[n]]) for n in names}
        peak = {n: Stat.of([r["rss_peak"] for r in runs[n]]) for n in names}
        grown = {n: Stat.of([r["rss_peak"] - r["rss_before"] for r in runs[n]]) for n in names}
        slowdown = ratio(rate["raw"], rate["ours"])
        target = Target(
            "bulk submit time, ours / raw httpx", "<= 1.2x", fmt_ratio(slowdown), slowdown <= 1.2
        )
        if config.always_profile or not target.holds:
            profile = _profile(emulator.url, config)
    table = Table(
        [
            "Client",
            "jobs/s",
            "client CPU µs/job",
            "peak RSS MiB",
            "RSS growth MiB",
            "jobs/s vs raw",
            "errors",
            "jobs held",
        ]
    )
    for n in names:
        table.add(
            n,
            rate[n].fmt(0),
            cpu[n].fmt(0, 1e6),
            peak[n].fmt(1, 1 / MIB),
            grown[n].fmt(1, 1 / MIB),
            fmt_ratio(ratio(rate[n], rate["raw"])),
            sum(r["errors"] for r in runs[n]),
            "/".join(str(h) for h in held[n]),
        )
    section = Section(
        key="bulk",
        title="3. Bulk submit",
        intro=(
            f"{config.bulk_jobs:,} submits at concurrency {config.bulk_concurrency} to a model "
            f"with no worker, {config.bulk_repeats} rounds, each run in a fresh process (so "
            "peak RSS is its own): ours is `AsyncQueueClient.submit_many(concurrency=...)` "
            "with default settings; raw is `httpx.AsyncClient()` (defaults) with an "
            "`asyncio.Semaphore`; the SDK is `AsyncTogether` (defaults) with the same "
            "semaphore; raw-pool-32 is raw httpx with our client's pool limits "
            "`httpx.Limits(max_connections=100, max_keepalive_connections=32)` (httpx's "
            "default keeps 20), to tell pool cost from our code. RSS growth is peak minus RSS "
            "after imports. Median (min-max)."
        ),
        tables=[table],
        targets=[target],
        data={
            "jobs_per_s": {n: s.values for n, s in rate.items()},
            "cpu_s_per_job": {n: s.values for n, s in cpu.items()},
            "peak_rss": {n: s.values for n, s in peak.items()},
            "held": held,
            "errors": {n: [r["errors"] for r in runs[n]] for n in names},
        },
    )
    if profile:
        section.profiles.append(profile)
    return section


def _profile(url: str, config: Config) -> str:
    count = max(config.profile_calls, 100)
    payloads = [{"i": i} for i in range(count)]

    async def submit_all() -> None:
        async with AsyncQueueClient(base_url=url, api_key=API_KEY) as client:
            await client.submit_many(
                payloads, model="bulk-profile", concurrency=config.bulk_concurrency
            )

    return profiling.attribute(
        lambda: asyncio.run(submit_all()),
        f"`AsyncQueueClient.submit_many` x {count:,} at concurrency {config.bulk_concurrency}",
    )
