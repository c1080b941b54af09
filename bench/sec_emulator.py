"""Section 5: the emulator: echo throughput by worker count; memory and latency at depth."""

from __future__ import annotations

import threading
import time

import httpx

from bench import clients
from bench.clients import AUTH
from bench.config import Config
from bench.emulator_proc import EmulatorProcess
from bench.procmem import MIB
from bench.report import Section, Table
from bench.stats import Stat, fmt_ratio, ratio

_DRAIN_DEADLINE = 120.0
_FILL_THREADS = 2


def _echo_round(emulator: EmulatorProcess, count: int) -> float:
    """Jobs per second from the first submit until every job is seen done (metrics drained)."""
    started = time.perf_counter()
    ids, _ = _fill(emulator.url, "echo", count, _DRAIN_DEADLINE)
    deadline = time.monotonic() + _DRAIN_DEADLINE
    while time.monotonic() < deadline:
        metrics = emulator.metrics("echo")
        if metrics["messages_waiting"] == 0 and metrics["messages_running"] == 0:
            break
        time.sleep(0.005)
    else:
        raise RuntimeError(f"echo jobs not drained within {_DRAIN_DEADLINE} s")
    elapsed = time.perf_counter() - started
    wanted = set(ids)
    jobs = emulator.jobs("echo")
    done = sum(1 for j in jobs if j["request_id"] in wanted and j["status"] == "done")
    if done != count:
        raise RuntimeError(f"{count - done} of {count} echo jobs not done")
    return count / elapsed


def _status_seconds(url: str, request_id: str, model: str, calls: int) -> tuple[float, float]:
    """Seconds per sequential status call and per metrics call (raw httpx, keep-alive)."""
    with httpx.Client(headers=AUTH, timeout=60.0) as client:
        for _ in range(min(calls, 20)):
            clients.raw_status(client, url, request_id, model)
        t0 = time.perf_counter()
        for _ in range(calls):
            clients.raw_status(client, url, request_id, model)
        status = (time.perf_counter() - t0) / calls
        n_metrics = max(1, calls // 10)
        t0 = time.perf_counter()
        for _ in range(n_metrics):
            client.get(f"{url}/v1/queue/metrics", params={"model": model}).raise_for_status()
        return status, (time.perf_counter() - t0) / n_metrics


def _fill(url: str, model: str, count: int, deadline: float) -> tuple[list[str], float]:
    """Submit up to `count` jobs from a few threads of sync httpx; (request ids, seconds).

    Sync httpx costs the client about half the CPU per request of `httpx.AsyncClient` at
    high concurrency, so the emulator, not the submitter, is what this measures.
    """
    lock = threading.Lock()
    ids: list[str] = []
    taken = 0
    stop_at = time.monotonic() + deadline

    def worker() -> None:
        nonlocal taken
        with httpx.Client(headers=AUTH, timeout=60.0) as client:
            while time.monotonic() < stop_at:
                with lock:
                    if taken >= count:
                        return
                    taken += 1
                    index = taken
                response = client.post(
                    f"{url}/v1/queue/submit", json={"model": model, "payload": {"i": index}}
                )
                response.raise_for_status()
                with lock:
                    ids.append(response.json()["requestId"])

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(_FILL_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return ids, time.perf_counter() - started


def run(config: Config) -> Section:
    """Echo throughput per worker count, then one emulator filled to `config.depth_jobs`."""
    throughput: dict[int, Stat] = {}
    for workers in config.echo_workers:
        with EmulatorProcess(models={"echo": "echo"}, workers=workers) as emulator:
            _fill(emulator.url, "echo", 50, _DRAIN_DEADLINE)  # warm-up
            rates = [_echo_round(emulator, config.echo_jobs) for _ in range(config.echo_repeats)]
        throughput[workers] = Stat.of(rates)
    base = throughput[config.echo_workers[0]]
    echo = Table(["In-process workers", "echo jobs/s (submit -> done)", "vs 1 worker"])
    for workers, stat in throughput.items():
        echo.add(workers, stat.fmt(0), fmt_ratio(ratio(stat, base)))

    model = "depth"
    with EmulatorProcess(models={}, workers=0) as emulator:
        probe = _fill(emulator.url, model, 1, _DRAIN_DEADLINE)[0][0]
        empty = [
            _status_seconds(emulator.url, probe, model, config.depth_status_calls)
            for _ in range(config.depth_repeats)
        ]
        rss_empty = Stat.of([emulator.rss_bytes() for _ in range(3)])
        filled, fill_seconds = _fill(
            emulator.url, model, config.depth_jobs, config.depth_fill_deadline
        )
        submitted = len(filled)
        deep = [
            _status_seconds(emulator.url, probe, model, config.depth_status_calls)
            for _ in range(config.depth_repeats)
        ]
        rss_deep = Stat.of([emulator.rss_bytes() for _ in range(3)])
        pending = int(emulator.metrics(model)["messages_waiting"])
    status_empty, status_deep = Stat.of([s for s, _ in empty]), Stat.of([s for s, _ in deep])
    metrics_empty, metrics_deep = Stat.of([m for _, m in empty]), Stat.of([m for _, m in deep])
    depth = Table(["Figure", "1 pending job", f"{pending:,} pending jobs", "ratio"])
    depth.add(
        "emulator RSS MiB",
        rss_empty.fmt(1, 1 / MIB),
        rss_deep.fmt(1, 1 / MIB),
        fmt_ratio(ratio(rss_deep, rss_empty)),
    )
    depth.add(
        "`status` µs per call",
        status_empty.fmt(0, 1e6),
        status_deep.fmt(0, 1e6),
        fmt_ratio(ratio(status_deep, status_empty)),
    )
    depth.add(
        "`metrics` µs per call",
        metrics_empty.fmt(0, 1e6),
        metrics_deep.fmt(0, 1e6),
        fmt_ratio(ratio(metrics_deep, metrics_empty)),
    )
    per_job = (rss_deep.median - rss_empty.median) / max(pending, 1)
    notes = [
        "In-process workers are asyncio tasks in the emulator's single process: more of them "
        "add concurrency for jobs that wait (`sleep`), not CPU for `echo`, so the end-to-end "
        "echo rate is bounded by the submit path (the client's threads and the emulator's one "
        "event loop, on 2 cores) whatever the worker count.",
        f"Filling: {submitted:,} submits in {fill_seconds:.1f} s "
        f"({submitted / fill_seconds:,.0f}/s, {_FILL_THREADS} threads of sync httpx): the only "
        f"way in is HTTP; about {per_job:,.0f} bytes of RSS per pending job.",
        "The fill is done once per run (it is the slow part): RSS is sampled 3 times and "
        f"status/metrics timed over {config.depth_repeats} rounds of "
        f"{config.depth_status_calls:,} calls, before and after the fill.",
    ]
    if submitted < config.depth_jobs:
        notes.append(
            f"The fill stopped at its {config.depth_fill_deadline:.0f} s deadline: "
            f"{submitted:,} of {config.depth_jobs:,} jobs."
        )
    return Section(
        key="emulator",
        title="5. Emulator",
        intro=(
            f"End-to-end: {config.echo_jobs:,} `echo` jobs submitted by {_FILL_THREADS} threads "
            "of sync raw httpx, timed until `metrics` shows none waiting or "
            f"running (every job then checked done), {config.echo_repeats} rounds per worker "
            "count, a fresh emulator per worker count; client and emulator share the 2 cores. "
            f"Depth: a fresh emulator (no workers) filled with {config.depth_jobs:,} pending "
            "jobs; RSS from /proc, `status` of one job and `metrics` of the model by raw "
            "sequential httpx. Median (min-max)."
        ),
        tables=[echo, depth],
        notes=notes,
        data={
            "echo_jobs_per_s": {str(k): v.values for k, v in throughput.items()},
            "rss_empty": rss_empty.values,
            "rss_deep": rss_deep.values,
            "pending": pending,
            "status_s": {"empty": status_empty.values, "deep": status_deep.values},
            "metrics_s": {"empty": metrics_empty.values, "deep": metrics_deep.values},
            "fill": {"submitted": submitted, "seconds": fill_seconds},
        },
    )
