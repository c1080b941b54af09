"""Bulk waits on a simulated clock: requests a job and lag, ours against fixed polling.

`python -m bench.wait_sim [--seeds N] [--workload NAME ...] [--quiet] [--set NAME=VALUE ...]`

Runs the client's own wait planner (`_WaitPlan` with its `PollState`s and `Durations`) on
jobs whose run times, claims and progress are drawn, with time simulated instead of slept:
the planner's clock is replaced for the run, a poll is answered after a fixed latency,
16 at a time, as section 4 of `nox -s bench` does over HTTP (500 jobs submitted over
0.5 s and waited on from the last submit; `uniform` is its workload). For each workload
it prints ours' status requests a job and median and p95 lag, and the median lag of
polling at the fixed interval that spends as many requests (`sec_wait.equal_cost_interval`),
medians over seeds. A run takes about a second where the bench's section takes 72, so a
policy constant can be judged on many seeds and run-time shapes: `_BOUNDED_COST` and
`SAMPLE` were chosen this way. `--set` changes a module constant of `_polling` or
`_durations`, or a `PollPolicy` field, for the run only.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import heapq
import math
import random
import statistics
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import attrs

import together_queue._bulk as bulk_module
import together_queue._durations as durations_module
import together_queue._polling as polling_module
from bench.sec_wait import equal_cost_interval
from together_queue import JobStatus, PollPolicy

Draw = Callable[[random.Random], float]
#: Run-time shapes, in seconds: the bench's, and the shapes its constants must also suit.
WORKLOADS: dict[str, Draw] = {
    "uniform": lambda r: r.uniform(0.1, 5.0),
    "short": lambda r: r.uniform(0.1, 1.0),
    "lognormal": lambda r: min(30.0, r.lognormvariate(0.5, 0.6)),
    "exponential": lambda r: min(30.0, 0.05 + r.expovariate(0.5)),
    "two-valued": lambda r: r.choice((0.5, 4.0)) * r.uniform(0.9, 1.1),
    "long": lambda r: r.uniform(5.0, 20.0),
}
JOBS = 500
SUBMIT_SECONDS = 0.5  # the bench's submits take about this long; each job starts at its own
LATENCY = 0.004  # seconds from a poll's start to its answer
CONCURRENCY = 16  # polls in flight: `wait_all`'s default
STEPS = 4  # progress is reported in quarters, as the emulator's `sleep` does
_DEADLINE = 300.0
_START = 1_000_000.0  # the simulated epoch of the first submit


class Result(NamedTuple):
    """One simulated wait, in job order: status requests, lags, and when each job ended.

    `remaining` is each job's end less the wait's start (<= 0: done before it began), as
    `sec_wait.equal_cost_interval` takes it.
    """

    requests: list[int]
    lags: list[float]
    remaining: list[float]


class Summary(NamedTuple):
    """Medians over seeds of each wait's requests a job, median lag and p95 lag, and fixed's."""

    requests: float
    median_lag: float
    p95_lag: float
    fixed_lag: float


class _Clock:
    """The simulated time, read by the planner as `time.monotonic()` and `time.time()`."""

    def __init__(self) -> None:
        self.now = _START

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now


class _Handle(NamedTuple):
    job: int  # its position in `runs`
    model: str  # read by the planner before a job's first poll


@contextlib.contextmanager
def _simulated(clock: _Clock, seed: int) -> Iterator[None]:
    """The planner reads `clock` for the time and draws its jitter from `seed`, in the block."""
    modules = (polling_module, bulk_module)
    saved = [module.__dict__["time"] for module in modules]
    jitter = polling_module._JITTER.getstate()
    try:
        for module in modules:
            module.__dict__["time"] = clock
        polling_module._JITTER.seed(seed)
        yield
    finally:
        for module, original in zip(modules, saved, strict=True):
            module.__dict__["time"] = original
        polling_module._JITTER.setstate(jitter)


def _epoch(seconds: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC)


def simulate(policy: PollPolicy, runs: Sequence[float], *, progress: bool, seed: int) -> Result:
    """Wait on one job per run time in `runs` with `policy`, on a simulated clock."""
    rng = random.Random(seed)
    count, model = len(runs), "sleep" if progress else "quiet"
    starts = (_START + SUBMIT_SECONDS * (i + 1) / count for i in range(count))
    claims = [start + rng.uniform(0, 0.002) for start in starts]
    ends = [claims[i] + runs[i] * (1 + rng.uniform(0, 0.01)) for i in range(count)]

    def status(i: int, at: float) -> JobStatus:
        claimed = _epoch(claims[i])
        if at >= ends[i]:
            info = {"progress": 1.0} if progress else {}
            done = _epoch(ends[i])
            return JobStatus(str(i), model, "done", info=info, claimed_at=claimed, done_at=done)
        step = int((at - claims[i]) / (ends[i] - claims[i]) * STEPS)
        info = {"progress": step / STEPS} if progress else {}
        return JobStatus(str(i), model, "running", info=info, claimed_at=claimed)

    clock = _Clock()
    clock.now = _START + SUBMIT_SECONDS  # waiting starts when the last submit returns
    requests, lags = [0] * count, [math.nan] * count
    with _simulated(clock, seed):
        plan = bulk_module._WaitPlan(
            iter([_Handle(i, model) for i in range(count)]),
            policy,
            _DEADLINE,
            bulk_module.AdaptiveLimit(CONCURRENCY),
            None,
            CONCURRENCY * bulk_module.WAIT_WINDOW_PER_SLOT,
        )
        answers: list[tuple[float, int, int, JobStatus]] = []  # (answered at, order, index, status)
        order = 0
        while plan.pending or answers:
            for index, handle in plan.due(len(answers)):
                requests[handle.job] += 1
                seen = status(handle.job, clock.now + LATENCY / 2)
                heapq.heappush(answers, (clock.now + LATENCY, order, index, seen))
                order += 1
            wake = plan.wait_timeout(len(answers))
            times = [answers[0][0]] if answers else []
            if wake is not None:
                times.append(clock.now + wake)
            if not times:
                raise RuntimeError("the planner has jobs left and nothing scheduled")
            clock.now = max(clock.now, min(times)) + 1e-6
            while answers and answers[0][0] <= clock.now:
                _, _, index, seen = heapq.heappop(answers)
                outcome = plan.settle(index, seen)
                if outcome is not None:
                    job = outcome.item.job
                    lags[job] = clock.now - ends[job]
            if clock.now > _START + _DEADLINE:
                raise RuntimeError("the simulated wait ran past its deadline")
    waited = _START + SUBMIT_SECONDS
    return Result(requests, lags, [end - waited for end in ends])


def fixed_median_lag(remaining: list[float], requests_per_job: float) -> float:
    """The median lag of polling every job at the fixed interval that spends `requests_per_job`.

    `remaining`: as `Result.remaining`, each job's end less the wait's start.
    """
    interval, at_once = equal_cost_interval(remaining, requests_per_job)
    lags = []
    for left in remaining:
        if left <= 0:  # done before waiting began: seen by the first poll
            lags.append(-left if at_once else interval - left)
        else:
            lags.append(math.ceil(left / interval) * interval - left)
    return statistics.median(lags)


def summarise(policy: PollPolicy, workload: str, *, progress: bool, seeds: int) -> Summary:
    """`simulate` over `seeds` seeds of `workload` (each its own draw of run times)."""
    draw = WORKLOADS[workload]
    per_job, medians, p95s, fixed = [], [], [], []
    for seed in range(seeds):
        rng = random.Random(seed)
        runs = [draw(rng) for _ in range(JOBS)]
        result = simulate(policy, runs, progress=progress, seed=seed)
        cost = sum(result.requests) / len(runs)
        ordered = sorted(result.lags)
        per_job.append(cost)
        medians.append(statistics.median(ordered))
        p95s.append(ordered[int(0.95 * (len(ordered) - 1))])
        fixed.append(fixed_median_lag(result.remaining, cost))
    return Summary(*(statistics.median(v) for v in (per_job, medians, p95s, fixed)))


@contextlib.contextmanager
def constants(settings: Sequence[str]) -> Iterator[dict[str, Any]]:
    """Apply `NAME=VALUE` settings to module constants for the block; the policy fields left.

    A name of `_polling` or `_durations` (upper case or starting with `_`) is set there and
    restored after; any other name is returned for `PollPolicy`. ValueError for a bad one.
    """
    fields: dict[str, Any] = {}
    defaults = PollPolicy()
    saved: list[tuple[Any, str, object]] = []
    try:
        for setting in settings:
            name, sep, text = setting.partition("=")
            if not sep:
                raise ValueError(f"--set needs NAME=VALUE, got {setting!r}")
            value = float(text)
            if name.isupper() or name.startswith("_"):
                module = next(
                    (m for m in (polling_module, durations_module) if hasattr(m, name)), None
                )
                if module is None:
                    raise ValueError(f"--set: no constant {name!r} in _polling or _durations")
                old = getattr(module, name)
                saved.append((module, name, old))
                module.__dict__[name] = type(old)(value)
            elif name in attrs.fields_dict(PollPolicy):
                fields[name] = type(getattr(defaults, name))(value)  # 1 -> True for a flag
            else:
                raise ValueError(f"--set: {name!r} is neither a constant nor a PollPolicy field")
        yield fields
    finally:
        for module, name, old in reversed(saved):
            module.__dict__[name] = old


def main(argv: Sequence[str] | None = None) -> int:
    """Print one line per workload: ours' requests a job and lags, and fixed polling's lag."""
    parser = argparse.ArgumentParser(prog="python -m bench.wait_sim", description=__doc__)
    parser.add_argument("--seeds", type=int, default=8, help="seeds a workload (default 8)")
    parser.add_argument("--workload", action="append", choices=sorted(WORKLOADS))
    parser.add_argument("--quiet", action="store_true", help="jobs that report no progress")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    try:
        with constants(args.set) as fields:
            policy = PollPolicy(**fields)
            print(f"{policy}, {'no progress' if args.quiet else 'progress in quarters'}")
            for workload in args.workload or list(WORKLOADS):
                s = summarise(policy, workload, progress=not args.quiet, seeds=args.seeds)
                print(
                    f"{workload:12s} requests a job {s.requests:5.2f}  lag median "
                    f"{s.median_lag:.3f} s, p95 {s.p95_lag:.2f} s  fixed polling at equal "
                    f"requests {s.fixed_lag:.3f} s ({s.median_lag / s.fixed_lag:.2f}x)"
                )
    except ValueError as exc:
        parser.error(str(exc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
