"""Section 3: 10,000 submits at concurrency 64: jobs per second and peak memory."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import clients, profiling
from bench.config import Config
from bench.emulator_proc import API_KEY, EmulatorProcess
from bench.procmem import MIB
from bench.report import Section, Table, Target
from bench.stats import Stat, fmt_ratio, ratio
from together_queue import AsyncQueueClient

_RUN_DEADLINE = 300.0
_PRESSURE = Path("/proc/pressure/cpu")


def _stalled_seconds() -> float | None:
    """Seconds, since boot, in which some task on this machine waited for a free core (PSI)."""
    try:
        some = _PRESSURE.read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    return int(some.rsplit("total=", 1)[1]) / 1e6


def _one_run(variant: str, url: str, model: str, config: Config) -> dict[str, Any]:
    stalled, started = _stalled_seconds(), time.perf_counter()
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
    after, lasted = _stalled_seconds(), time.perf_counter() - started
    # The share of the run (its process's whole life) in which a task waited for a core:
    # low with the client and the emulator alone; other work makes a round slow whatever
    # the client does.
    result["pressure"] = None if stalled is None or after is None else (after - stalled) / lasted
    return result


#: What each row is compared with: its own kind's raw httpx (async or threads).
_BASELINE = {"ours-sync": "raw-threads", "raw-threads": "raw"}


def _names() -> tuple[str, ...]:
    # raw-reuse and raw-fair: raw httpx keeping every connection alive, with httpcore's
    # own assignment pass and with ours, to tell the pool's cost from our engine's.
    return (*clients.variants(), "raw-reuse", "raw-fair", "ours-sync", "raw-threads")


def run(config: Config) -> Section:
    """Each variant `config.bulk_repeats` times, interleaved, each in a fresh process."""
    names = _names()
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
        opened = {n: Stat.of([r["connections"] for r in runs[n]]) for n in names}
        pressure = {n: [r["pressure"] for r in runs[n]] for n in names}
        targets = _targets(rate)
        if config.always_profile or not all(t.holds for t in targets):
            profile = _profile(emulator.url, config)
    table = Table(
        [
            "Client",
            "jobs/s",
            "vs its raw httpx",
            "slowest round / median",
            "client CPU µs/job",
            "connections opened",
            "CPU pressure % (per round)",
            "peak RSS MiB",
            "errors",
            "jobs held",
        ]
    )
    for n in names:
        base = _BASELINE.get(n, "raw")
        table.add(
            n,
            rate[n].fmt(0),
            fmt_ratio(ratio(rate[n], rate[base])),
            f"{rate[n].min / rate[n].median:.2f}",
            cpu[n].fmt(0, 1e6),
            opened[n].fmt(0),
            _per_round(pressure[n]),
            peak[n].fmt(1, 1 / MIB),
            sum(r["errors"] for r in runs[n]),
            "/".join(str(h) for h in held[n]),
        )
    section = Section(
        key="bulk",
        title="3. Bulk submit",
        intro=(
            f"{config.bulk_jobs:,} submits at concurrency {config.bulk_concurrency} to a model "
            f"with no worker, {config.bulk_repeats} rounds, each run in a fresh process (so "
            "peak RSS is its own). Async: ours is `AsyncQueueClient.submit_many(concurrency=...)` "
            "with default settings; raw is `httpx.AsyncClient()` (defaults) with an "
            "`asyncio.Semaphore`; the SDK is `AsyncTogether` (defaults) with the same "
            "semaphore; raw-reuse keeps every connection alive "
            "(`httpx.Limits(max_connections=100, max_keepalive_connections=100)`) under "
            "httpcore's own pool, raw-fair the same with our pool (`together_queue._pool`). "
            "Sync: ours-sync is `QueueClient.submit_many`, raw-threads a bare `httpx.Client()` "
            "shared by a `ThreadPoolExecutor` of the same size (compared with each other). "
            "Connections opened are counted in the client process. Median (min-max)."
        ),
        tables=[table],
        targets=targets,
        notes=[
            "httpx's default pool (keep-alive 20) at concurrency 64 opens a connection per "
            "request: httpcore 1.0 keeps an idle connection only while the pool holds at "
            "most 20 connections in all. Kept alive (raw-reuse), every request that arrives "
            "while a connection is idle is handed that same connection; all but one fail and "
            "rerun the pool's pass, which costs more than opening connections. Which of the "
            "two a run falls into made bulk runs bimodal. Our pool (raw-fair, ours) hands an "
            "idle connection to one request and counts only idle ones against keep-alive.",
            "CPU pressure: the share of each round in which some task on the machine waited "
            "for a free core (Linux PSI, `/proc/pressure/cpu`), over the run's whole process, "
            "in round order. The client and the emulator are two processes (the sync client's "
            "threads share one GIL) on 2 cores: a high share means other work on the machine "
            "competed for them, and a round slowed by it is slow whatever the client does.",
        ],
        data={
            "jobs_per_s": {n: s.values for n, s in rate.items()},
            "cpu_s_per_job": {n: s.values for n, s in cpu.items()},
            "peak_rss": {n: s.values for n, s in peak.items()},
            "connections": {n: s.values for n, s in opened.items()},
            "cpu_pressure": pressure,
            "held": held,
            "errors": {n: [r["errors"] for r in runs[n]] for n in names},
        },
    )
    if profile:
        section.profiles.append(profile)
    return section


def _per_round(shares: list[float | None]) -> str:
    """Each round's CPU pressure as a percentage, in round order ("n/a" without PSI)."""
    return "/".join("n/a" if share is None else f"{share * 100:.0f}" for share in shares)


def _targets(rate: dict[str, Stat]) -> list[Target]:
    vs_raw = ratio(rate["ours"], rate["raw"])
    steady = rate["ours"].min / rate["ours"].median
    sync = ratio(rate["ours-sync"], rate["raw-threads"])
    targets = [
        Target(
            "async bulk jobs/s, ours / raw httpx", ">= 0.95x", fmt_ratio(vs_raw), vs_raw >= 0.95
        ),
        Target(
            "async bulk, slowest round / median (not bimodal)",
            ">= 0.85",
            f"{steady:.2f}",
            steady >= 0.85,
        ),
        Target(
            "sync bulk jobs/s, ours / raw httpx threads", ">= 0.95x", fmt_ratio(sync), sync >= 0.95
        ),
    ]
    if "sdk" in rate:
        vs_sdk = ratio(rate["ours"], rate["sdk"])
        targets.insert(
            1,
            Target("async bulk jobs/s, ours / SDK", ">= 1.0x", fmt_ratio(vs_sdk), vs_sdk >= 1.0),
        )
    return targets


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
