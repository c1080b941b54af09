"""Section: bulk at scale (CLI and library at 2k/20k/200k lines) and adaptive concurrency on 429.

Every run is a fresh process (`bench.scale_worker`), so its peak RSS is its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.config import Config
from bench.emulator_proc import EmulatorProcess
from bench.procmem import MIB
from bench.report import Section, Table, Target
from bench.stats import Stat, fmt_ratio, ratio

_RUN_DEADLINE = 900.0


def _worker(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.scale_worker", *args],
        capture_output=True,
        text=True,
        timeout=_RUN_DEADLINE,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _write_jobs(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for i in range(count):
            handle.write(f'{{"i": {i}}}\n')


def _scale(config: Config, url: str, workdir: Path) -> dict[str, dict[int, list[dict[str, Any]]]]:
    runs: dict[str, dict[int, list[dict[str, Any]]]] = {"cli": {}, "library": {}}
    conc = str(config.scale_concurrency)
    for size in config.scale_sizes:
        jobs = workdir / f"jobs-{size}.jsonl"
        _write_jobs(jobs, size)
        repeats = 1 if size == max(config.scale_sizes) else config.scale_repeats
        for round_ in range(repeats):  # interleaved: drift hits both alike
            out = workdir / f"results-{size}-{round_}.jsonl"
            model = f"scale-cli-{size}-{round_}"
            cli = _worker("cli", url, model, str(jobs), str(out), conc)
            runs["cli"].setdefault(size, []).append(cli)
            model = f"scale-lib-{size}-{round_}"
            lib = _worker("lib", url, model, str(size), conc, "adaptive")
            runs["library"].setdefault(size, []).append(lib)
            out.unlink()
        jobs.unlink()
    return runs


def _rate_limited(config: Config) -> dict[str, list[dict[str, Any]]]:
    fault = f"submit:429:{config.ratelimit_rate}:retry_after={config.ratelimit_retry_after}"
    runs: dict[str, list[dict[str, Any]]] = {"adaptive": [], "fixed": []}
    with EmulatorProcess(models={}, workers=0, faults=[fault]) as emulator:
        for round_ in range(config.ratelimit_repeats):
            for mode in ("adaptive", "fixed"):
                model = f"ratelimit-{mode}-{round_}"
                result = _worker(
                    "lib",
                    emulator.url,
                    model,
                    str(config.ratelimit_submits),
                    str(config.scale_concurrency),
                    mode,
                )
                result["stored"] = int(emulator.metrics(model)["messages_waiting"])
                runs[mode].append(result)
    return runs


def run(config: Config) -> Section:
    """The scale runs on one emulator, then the rate-limit runs on one with 429 injection."""
    with (
        tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp,
        EmulatorProcess(models={}, workers=0) as emulator,
    ):
        runs = _scale(config, emulator.url, Path(tmp))
    limited = _rate_limited(config)

    sizes = config.scale_sizes
    rate = {
        (who, n): Stat.of([n / r["seconds"] for r in runs[who][n]]) for who in runs for n in sizes
    }
    peak = {(who, n): Stat.of([r["rss_peak"] for r in runs[who][n]]) for who in runs for n in sizes}
    scale = Table(["Lines", "CLI jobs/s", "library jobs/s", "CLI / library", "CLI peak RSS MiB",
                   "library peak RSS MiB", "runs", "errors"])  # fmt: skip
    for n in sizes:
        scale.add(
            f"{n:,}",
            rate["cli", n].fmt(0),
            rate["library", n].fmt(0),
            fmt_ratio(ratio(rate["cli", n], rate["library", n])),
            peak["cli", n].fmt(1, 1 / MIB),
            peak["library", n].fmt(1, 1 / MIB),
            len(runs["cli"][n]),
            sum(r["errors"] for who in runs for r in runs[who][n]),
        )
    small, large = min(sizes), max(sizes)
    growth = peak["cli", large].median / peak["cli", small].median
    slowest = min(ratio(rate["cli", n], rate["library", n]) for n in sizes)

    secs = {m: Stat.of([r["seconds"] for r in limited[m]]) for m in limited}
    hits = {m: Stat.of([float(r["rate_limited"]) for r in limited[m]]) for m in limited}
    rl = Table(["Concurrency", "total s", "429s received", "submitted ok", "jobs stored"])
    for mode in ("adaptive", "fixed"):
        rl.add(
            f"{mode} (max {config.scale_concurrency})",
            secs[mode].fmt(2),
            hits[mode].fmt(0),
            "/".join(str(r["ok"]) for r in limited[mode]),
            "/".join(str(r["stored"]) for r in limited[mode]),
        )
    fewer = hits["adaptive"].median < hits["fixed"].median
    no_slower = secs["adaptive"].median <= secs["fixed"].median * 1.05
    return Section(
        key="scale",
        title="7. Bulk at scale and under rate limits",
        intro=(
            f"`together-queue submit --file F --output R --concurrency {config.scale_concurrency}`"
            " against `QueueClient.submit_iter` over a generator at the same concurrency, each "
            "run in a fresh process (the CLI through `together_queue.cli.main` in the worker), "
            "interleaved on one emulator with no worker, "
            f"{config.scale_repeats} rounds per size except the largest (1 round). Then "
            f"{config.ratelimit_submits:,} library submits on an emulator that answers a "
            f"random {config.ratelimit_rate:.0%} of submits 429 with Retry-After "
            f"{config.ratelimit_retry_after} s (`--fault submit:429:...`), adaptive (AIMD) vs "
            f"fixed concurrency, {config.ratelimit_repeats} rounds. Median (min-max)."
        ),
        tables=[scale, rl],
        targets=[
            Target(
                f"CLI peak RSS at {large:,} lines / at {small:,}",
                "<= 1.25x",
                f"{growth:.2f}x",
                growth <= 1.25,
            ),
            Target(
                "CLI jobs/s / library jobs/s (worst size)",
                ">= 0.9x",
                fmt_ratio(slowest),
                slowest >= 0.9,
            ),
            Target(
                "adaptive concurrency: fewer 429s, no worse total time",
                "fewer 429s and <= 1.05x time",
                f"{hits['adaptive'].median:.0f} vs {hits['fixed'].median:.0f} 429s, "
                f"{secs['adaptive'].median:.2f} vs {secs['fixed'].median:.2f} s",
                fewer and no_slower,
            ),
        ],
        notes=[
            "The emulator's 429 injection strikes each request with a fixed probability, "
            "whatever the load: the number of 429s follows the number of requests sent, not "
            "the concurrency, so AIMD cannot lower it there (a real service limits by load). "
            "Both modes pause new submits for Retry-After and resend a refused submit."
        ],
        data={
            "jobs_per_s": {f"{w}-{n}": rate[w, n].values for w, n in rate},
            "peak_rss": {f"{w}-{n}": peak[w, n].values for w, n in peak},
            "ratelimit_seconds": {m: s.values for m, s in secs.items()},
            "ratelimit_429s": {m: s.values for m, s in hits.items()},
        },
    )
