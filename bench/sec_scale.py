"""Section: bulk at scale (CLI and library at 2k/20k/200k lines) and adaptive concurrency on 429.

Every run is a fresh process (`bench.scale_worker`), so its peak RSS is its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.config import Config
from bench.emulator_proc import EmulatorProcess
from bench.procmem import MIB
from bench.report import Section, Table, Target
from bench.stats import Stat, fmt_ratio, paired_ratio

_RUN_DEADLINE = 900.0


def _worker(*args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.scale_worker", *args],
        capture_output=True,
        text=True,
        timeout=_RUN_DEADLINE,
        check=True,
        env=env,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _write_jobs(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for i in range(count):
            handle.write(f'{{"i": {i}}}\n')


def _scale(config: Config, workdir: Path) -> dict[str, dict[int, list[dict[str, Any]]]]:
    runs: dict[str, dict[int, list[dict[str, Any]]]] = {"cli": {}, "library": {}, "sync": {}}
    conc = str(config.scale_concurrency)
    for size in config.scale_sizes:
        jobs = workdir / f"jobs-{size}.jsonl"
        _write_jobs(jobs, size)
        largest = size == max(config.scale_sizes)
        repeats = config.scale_largest_repeats if largest else config.scale_repeats
        for round_ in range(repeats):  # interleaved: drift hits both alike
            env = _round_env(round_)
            out = workdir / f"results-{size}-{round_}.jsonl"
            for who in _pair_order(round_):
                if who == "cli":
                    model = f"scale-cli-{size}-{round_}"
                    result = _on_fresh_emulator(env, "cli", model, str(jobs), str(out), conc)
                else:
                    model = f"scale-lib-{size}-{round_}"
                    # The async engine: the one the CLI submits with, and the faster of the two.
                    result = _on_fresh_emulator(env, "alib", model, str(size), conc, "adaptive")
                runs[who].setdefault(size, []).append(result)
            model = f"scale-sync-{size}-{round_}"
            sync = _on_fresh_emulator(env, "lib", model, str(size), conc, "adaptive")
            runs["sync"].setdefault(size, []).append(sync)
            out.unlink()
        jobs.unlink()
    return runs


def _pair_order(round_: int) -> tuple[str, str]:
    """Which of the compared pair runs first in a round: the CLI in even rounds, else the library.

    A drift of the machine within a round then favours neither side over the rounds,
    and a place in the order that costs (or helps) a run falls on both sides alike.
    """
    return ("cli", "library") if round_ % 2 == 0 else ("library", "cli")


_FIRST_SEED = 1
"""The hash seed of the first round (0 would turn hash randomization off)."""


def _round_env(round_: int) -> dict[str, str]:
    """The environment of one round's processes: this one's, with the round's hash seed.

    The string hash seed lays out every dict and set, and moves one process's CPU per
    job by up to 20% (the CLI's: 361 to 438 us at seeds 1 to 6). Random seeds would
    add that to every comparison; one seed for all the runs of a round (clients and
    emulators) leaves the rounds to differ by seed, and the runs of a round only by
    what they do. Fixed seeds also make one bench run comparable with the next.
    """
    return {**os.environ, "PYTHONHASHSEED": str(_FIRST_SEED + round_)}


def _on_fresh_emulator(env: dict[str, str], engine: str, *args: str) -> dict[str, Any]:
    """One `bench.scale_worker` run against an emulator of its own, started empty.

    The emulator keeps every job (nobody claims them), and its cost per submit grows with
    what it holds (its indexes deepen): on one shared emulator each run would meet what
    the runs before it left (hundreds of thousands of jobs by the last), and the order of the runs
    would decide part of their ratio. The start is outside the worker's clock.
    """
    with EmulatorProcess(models={}, workers=0, env=env) as emulator:
        return _worker(engine, emulator.url, *args, env=env)


_BUCKET_RATE = 100
"""Submits per second the rate-limited emulator takes (`--rate-limit submit=100/s`)."""
_BUCKET_SHARE = 2
"""The bucket holds at most half the submits, so every run meets the limit (quick ones too)."""
_RANDOM_SUBMITS = 300
"""Submits of the one load-independent run (random 429s): a contrast, kept short."""


def _lib_runs(
    emulator: EmulatorProcess,
    limits: list[str],
    label: str,
    submits: int,
    rounds: int,
    config: Config,
    faults: list[str] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    runs: dict[str, list[dict[str, Any]]] = {"adaptive": [], "fixed": []}
    conc = str(config.scale_concurrency)
    for round_ in range(rounds):
        for mode in ("adaptive", "fixed"):  # interleaved: drift hits both alike
            # Set before each run: a fresh plan refills every bucket (a no-op without one).
            response = emulator.admin.post(
                f"{emulator.url}/_emulator/rate-limits", json={"limits": limits}
            )
            response.raise_for_status()
            if faults is not None:  # re-seeded: both modes of a round meet the same draws
                seeded = {"seed": round_, "rules": faults}
                emulator.admin.post(
                    f"{emulator.url}/_emulator/faults", json=seeded
                ).raise_for_status()
            model = f"{label}-{mode}-{round_}"
            result = _worker("lib", emulator.url, model, str(submits), conc, mode)
            result["stored"] = int(emulator.metrics(model)["messages_waiting"])
            runs[mode].append(result)
    return runs


def _rate_limited(config: Config) -> dict[str, list[dict[str, Any]]]:
    """Adaptive vs fixed against a token bucket: 429s follow the load, as on a real service."""
    with EmulatorProcess(models={}, workers=0) as emulator:
        limits = [f"submit={_BUCKET_RATE}/s,burst={_burst(config)}"]
        return _lib_runs(
            emulator,
            limits,
            "ratelimit",
            config.ratelimit_submits,
            config.ratelimit_repeats,
            config,
        )


def _burst(config: Config) -> int:
    return max(1, min(_BUCKET_RATE, config.ratelimit_submits // _BUCKET_SHARE))


def _random_429s(config: Config) -> dict[str, list[dict[str, Any]]]:
    """Rounds against random 429s (a fixed share of calls, whatever the load)."""
    fault = f"submit:429:{config.ratelimit_rate}:retry_after={config.ratelimit_retry_after}"
    submits = min(_RANDOM_SUBMITS, config.ratelimit_submits)
    rounds = config.ratelimit_repeats
    with EmulatorProcess(models={}, workers=0, faults=[fault]) as emulator:
        return _lib_runs(emulator, [], "random429", submits, rounds, config, faults=[fault])


def _limit_table(config: Config, runs: dict[str, list[dict[str, Any]]], label: str) -> Table:
    table = Table([label, "total s", "429s received", "submitted ok", "jobs stored"])
    for mode in ("adaptive", "fixed"):
        table.add(
            f"{mode} (max {config.scale_concurrency})",
            Stat.of([r["seconds"] for r in runs[mode]]).fmt(2),
            Stat.of([float(r["rate_limited"]) for r in runs[mode]]).fmt(0),
            "/".join(str(r["ok"]) for r in runs[mode]),
            "/".join(str(r["stored"]) for r in runs[mode]),
        )
    return table


def run(config: Config) -> Section:
    """The scale runs (an emulator each), then the rate-limit runs on one with 429 injection."""
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        runs = _scale(config, Path(tmp))
    limited = _rate_limited(config)
    random_429s = _random_429s(config)

    sizes = config.scale_sizes
    rate = {
        (who, n): Stat.of([n / r["seconds"] for r in runs[who][n]]) for who in runs for n in sizes
    }
    peak = {(who, n): Stat.of([r["rss_peak"] for r in runs[who][n]]) for who in runs for n in sizes}
    # Each round's CLI run against the library runs of the same round (same hash seed).
    vs = {
        (who, n): paired_ratio(rate["cli", n].values, rate[who, n].values)
        for who in ("library", "sync")
        for n in sizes
    }
    scale = Table(["Lines", "CLI jobs/s", "library jobs/s", "CLI / library",
                   "sync library jobs/s", "CLI / sync library", "CLI peak RSS MiB",
                   "library peak RSS MiB", "runs", "errors"])  # fmt: skip
    for n in sizes:
        scale.add(
            f"{n:,}",
            rate["cli", n].fmt(0),
            rate["library", n].fmt(0),
            fmt_ratio(vs["library", n]),
            rate["sync", n].fmt(0),
            fmt_ratio(vs["sync", n]),
            peak["cli", n].fmt(1, 1 / MIB),
            peak["library", n].fmt(1, 1 / MIB),
            len(runs["cli"][n]),
            sum(r["errors"] for who in runs for r in runs[who][n]),
        )
    small, large = min(sizes), max(sizes)
    growth = peak["cli", large].median / peak["cli", small].median
    slowest = min(vs["library", n] for n in sizes)

    secs = {m: Stat.of([r["seconds"] for r in limited[m]]) for m in limited}
    hits = {m: Stat.of([float(r["rate_limited"]) for r in limited[m]]) for m in limited}
    rl = _limit_table(config, limited, f"Token bucket {_BUCKET_RATE}/s: concurrency")
    rl_random = _limit_table(
        config, random_429s, f"Random {config.ratelimit_rate:.0%} 429s (load-independent)"
    )
    fewer = hits["adaptive"].median < hits["fixed"].median
    no_slower = secs["adaptive"].median <= secs["fixed"].median * 1.05
    random_secs = {m: Stat.of([r["seconds"] for r in random_429s[m]]) for m in random_429s}
    random_ratio = random_secs["adaptive"].median / random_secs["fixed"].median
    return Section(
        key="scale",
        title="7. Bulk at scale and under rate limits",
        intro=(
            f"`together-queue submit --file F --output R --concurrency {config.scale_concurrency}`"
            " against `AsyncQueueClient.submit_iter` over a generator at the same concurrency "
            "(library: the engine the CLI submits a regular file with, and the faster one; the "
            "target is judged on it) and `QueueClient.submit_iter` (sync library, threads), each "
            "run in a fresh process (the CLI through `together_queue.cli.main` in the worker), "
            "interleaved (the CLI first in even rounds, the async library first in odd ones), "
            "each on an emulator of its own started empty, with no worker, "
            f"{config.scale_repeats} rounds per size except the largest "
            f"({config.scale_largest_repeats}); the runs of a round and their emulators "
            "share one hash seed (`PYTHONHASHSEED`, a seed per round), and the CLI's ratios "
            "are the median of the rounds' ratios (each CLI run against the library runs "
            "beside it). Then "
            f"{config.ratelimit_submits:,} library submits on an emulator that takes "
            f"{_BUCKET_RATE} submits/s (a token bucket, burst {_burst(config)}: "
            f"`--rate-limit submit={_BUCKET_RATE}/s,burst={_burst(config)}`) and answers "
            "the excess 429 with "
            "Retry-After for the next token, rounded up to whole seconds, adaptive (AIMD) vs "
            f"fixed concurrency, {config.ratelimit_repeats} rounds, each from a full bucket "
            "(second table). Last, "
            f"{min(_RANDOM_SUBMITS, config.ratelimit_submits):,} submits on an emulator "
            f"answering a random {config.ratelimit_rate:.0%} of submits 429 with Retry-After "
            f"{config.ratelimit_retry_after} s, whatever the load (`--fault submit:429:...`), "
            f"{config.ratelimit_repeats} rounds, the fault plan re-seeded before each run so "
            "that both modes of a round meet the same draws (third table). Median (min-max)."
        ),
        tables=[scale, rl, rl_random],
        targets=[
            Target(
                f"CLI peak RSS at {large:,} lines / at {small:,}",
                "<= 1.25x",
                f"{growth:.2f}x",
                growth <= 1.25,
            ),
            Target(
                "CLI jobs/s / library jobs/s (worst size)",
                ">= 0.95x",
                fmt_ratio(slowest),
                slowest >= 0.95,
            ),
            Target(
                "adaptive concurrency under a rate limit: fewer 429s, no worse total time",
                "fewer 429s and <= 1.05x time",
                f"{hits['adaptive'].median:.0f} vs {hits['fixed'].median:.0f} 429s, "
                f"{secs['adaptive'].median:.2f} vs {secs['fixed'].median:.2f} s",
                fewer and no_slower,
            ),
            Target(
                "adaptive concurrency under load-independent 429s: time / fixed",
                "<= 1.10x",
                f"{random_ratio:.2f}x",
                random_ratio <= 1.10,
            ),
        ],
        notes=[
            "The fewer-429s target is judged on the token bucket, which refuses by load as a "
            "real service does. On the random-429 table each request is struck with a fixed "
            "probability whatever the load, so the 429s follow the number of requests sent and "
            "no concurrency rule can lower them: there the target is only that adapting costs "
            "no time. Both modes pause new submits for Retry-After and resend a refused submit.",
            "What the time costs: 1,000 submits through a 100/s bucket (burst 100) take at least "
            "9 s whatever the client does. The emulator's Retry-After is whole seconds (the spec "
            "types the header as an integer), so each pause after a 429 is about 1 s. Adaptive "
            "cuts only when most answers around a 429 are 429s too (the load), paces at what "
            "the bucket let through, and after a pause sends at once most of the starts the "
            "pause held back (the bucket refilled meanwhile), so a pause costs it little time; "
            "a 429 among successes (the random table) cuts nothing.",
        ],
        data={
            "jobs_per_s": {f"{w}-{n}": rate[w, n].values for w, n in rate},
            "cli_vs": {f"{w}-{n}": value for (w, n), value in vs.items()},
            "peak_rss": {f"{w}-{n}": peak[w, n].values for w, n in peak},
            "ratelimit_seconds": {m: s.values for m, s in secs.items()},
            "ratelimit_429s": {m: s.values for m, s in hits.items()},
            "random429_seconds": {m: [r["seconds"] for r in random_429s[m]] for m in random_429s},
            "random429_429s": {m: [r["rate_limited"] for r in random_429s[m]] for m in random_429s},
        },
    )
