"""Section 2: per-call overhead of 2,000 sequential `status` calls on one keep-alive connection."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from bench import clients, profiling
from bench.clients import AUTH
from bench.config import Config
from bench.emulator_proc import API_KEY, EmulatorProcess
from bench.report import Section, Table, Target
from bench.stats import Stat, fmt_ratio, ratio
from together_queue import AsyncQueueClient, QueueClient

_WARMUP = 50
Timing = tuple[float, float]  # (wall seconds per call, client CPU seconds per call)


def _time_sync(call: Callable[[], object], n: int) -> Timing:
    for _ in range(min(_WARMUP, n)):
        call()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        call()
    return (time.perf_counter() - wall) / n, (time.process_time() - cpu) / n


async def _time_async(call: Callable[[], Awaitable[object]], n: int) -> Timing:
    for _ in range(min(_WARMUP, n)):
        await call()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        await call()
    return (time.perf_counter() - wall) / n, (time.process_time() - cpu) / n


def _sync_round(variant: str, url: str, rid: str, model: str, n: int) -> Timing:
    if variant == "ours":
        with QueueClient(base_url=url, api_key=API_KEY) as ours:
            return _time_sync(lambda: ours.status(rid, model=model), n)
    if variant == "raw":
        with httpx.Client(headers=AUTH) as raw:
            return _time_sync(lambda: clients.raw_status(raw, url, rid, model), n)
    import together

    with together.Together(api_key=API_KEY, base_url=url) as sdk:
        return _time_sync(lambda: sdk.beta.jig.queue.retrieve(model=model, request_id=rid), n)


async def _async_round(variant: str, url: str, rid: str, model: str, n: int) -> Timing:
    if variant == "ours":
        async with AsyncQueueClient(base_url=url, api_key=API_KEY) as ours:
            return await _time_async(lambda: ours.status(rid, model=model), n)
    if variant == "raw":
        async with httpx.AsyncClient(headers=AUTH) as raw:
            return await _time_async(lambda: clients.araw_status(raw, url, rid, model), n)
    import together

    async with together.AsyncTogether(api_key=API_KEY, base_url=url) as sdk:
        return await _time_async(
            lambda: sdk.beta.jig.queue.retrieve(model=model, request_id=rid), n
        )


def run(config: Config) -> Section:
    """Time every client's status loop `config.status_repeats` times, interleaved."""
    model = "echo"
    names = clients.variants()
    wall: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    profile = ""
    with EmulatorProcess(models={model: "echo"}, workers=1) as emulator:
        url = emulator.url
        rid = clients.finished_job(url, model)
        for _ in range(config.status_repeats):
            for variant in names:
                for mode in ("sync", "async"):
                    key = f"{variant} {mode}"
                    if mode == "sync":
                        per_call, per_cpu = _sync_round(
                            variant, url, rid, model, config.status_calls
                        )
                    else:
                        per_call, per_cpu = asyncio.run(
                            _async_round(variant, url, rid, model, config.status_calls)
                        )
                    wall.setdefault(key, []).append(per_call)
                    cpu.setdefault(key, []).append(per_cpu)
        stats = {k: Stat.of(v) for k, v in wall.items()}
        cpus = {k: Stat.of(v) for k, v in cpu.items()}
        targets = _targets(stats, cpus)
        if config.always_profile or not all(t.holds for t in targets):
            profile = _profile(url, rid, model, config.profile_calls)
    table = Table(
        ["Client", "µs per call", "vs raw httpx", "vs SDK", "client CPU µs per call", "CPU vs raw"]
    )
    for key, stat in stats.items():
        mode = key.split()[1]
        sdk_key = f"sdk {mode}"
        table.add(
            key,
            stat.fmt(0, 1e6),
            fmt_ratio(ratio(stat, stats[f"raw {mode}"])),
            fmt_ratio(ratio(stat, stats[sdk_key])) if sdk_key in stats else "n/a",
            cpus[key].fmt(0, 1e6),
            fmt_ratio(ratio(cpus[key], cpus[f"raw {mode}"])),
        )
    section = Section(
        key="overhead",
        title="2. Per-call overhead",
        intro=(
            f"{config.status_calls:,} sequential `status` calls for one finished `echo` job on "
            f"one keep-alive connection (after {_WARMUP} warm-up calls), "
            f"{config.status_repeats} rounds, clients interleaved in each round. Raw httpx "
            "sends the same GET and parses the JSON body; the SDK call is "
            "`client.beta.jig.queue.retrieve`. Client CPU is this process's CPU time per call "
            "(what the client itself costs, whatever the server does). Median (min-max)."
        ),
        tables=[table],
        targets=targets,
        data={
            "wall_s": {k: v.values for k, v in stats.items()},
            "cpu_s": {k: v.values for k, v in cpus.items()},
        },
    )
    if profile:
        section.profiles.append(profile)
    return section


def _targets(stats: dict[str, Stat], cpus: dict[str, Stat]) -> list[Target]:
    cpu = ratio(cpus["ours sync"], cpus["raw sync"])
    targets = [
        Target("status sync client CPU, ours / raw httpx", "<= 1.10x", fmt_ratio(cpu), cpu <= 1.10)
    ]
    for mode in ("sync", "async"):
        r = ratio(stats[f"ours {mode}"], stats[f"raw {mode}"])
        targets.append(
            Target(f"status {mode}, ours / raw httpx", "<= 1.15x", fmt_ratio(r), r <= 1.15)
        )
        if f"sdk {mode}" in stats:
            s = ratio(stats[f"ours {mode}"], stats[f"sdk {mode}"])
            targets.append(Target(f"status {mode}, ours / SDK", "< 1.0x", fmt_ratio(s), s < 1.0))
    return targets


def _profile(url: str, rid: str, model: str, n: int) -> str:
    with QueueClient(base_url=url, api_key=API_KEY) as ours:
        ours.status(rid, model=model)

        def loop() -> Any:
            for _ in range(n):
                ours.status(rid, model=model)

        return profiling.attribute(loop, f"`QueueClient.status` x {n:,}")
