"""Section 8: what one open dashboard costs the emulator: submit rate with it vs without."""

from __future__ import annotations

import time

from bench.config import Config
from bench.emulator_proc import EmulatorProcess
from bench.page_client import PageProcess, poll_intervals
from bench.report import Section, Table, Target
from bench.sec_emulator import _FILL_THREADS, _fill
from bench.stats import Stat, fmt_ratio, ratio

_FILL_DEADLINE = 120.0
_TARGET = 0.95


def _phase(emulator: EmulatorProcess, count: int) -> tuple[float, float]:
    """(submits per second, emulator CPU seconds per 1,000 submits) for `count` submits."""
    cpu = emulator.cpu_seconds()
    ids, seconds = _fill(emulator.url, "bench", count, _FILL_DEADLINE)
    if len(ids) != count:
        raise RuntimeError(f"only {len(ids)} of {count} submits within {_FILL_DEADLINE} s")
    return count / seconds, (emulator.cpu_seconds() - cpu) * 1000 / count


def run(config: Config) -> Section:
    """Alternating phases of submits, with no page and with one open page, per emulator."""
    without: list[float] = []
    with_page: list[float] = []
    cpu_without: list[float] = []
    cpu_with_page: list[float] = []
    page_requests = 0
    page_seconds = 0.0
    for repeat in range(config.dashboard_repeats):
        with EmulatorProcess(models={}, workers=0) as emulator:
            _fill(emulator.url, "bench", 50, _FILL_DEADLINE)  # warm-up
            for phase in range(2 * config.dashboard_phases):
                # Alternate, and start each emulator with the other one, so that drift
                # (a growing store, other load on the machine) falls on both alike.
                if (phase + repeat) % 2 == 0:
                    rate, cpu = _phase(emulator, config.dashboard_jobs)
                    without.append(rate)
                    cpu_without.append(cpu)
                    continue
                started = time.monotonic()
                with PageProcess(emulator.url) as page:
                    page.wait_started()
                    rate, cpu = _phase(emulator, config.dashboard_jobs)
                with_page.append(rate)
                cpu_with_page.append(cpu)
                page_requests += page.requests
                page_seconds += time.monotonic() - started
    base, opened = Stat.of(without), Stat.of(with_page)
    cpu_base, cpu_opened = Stat.of(cpu_without), Stat.of(cpu_with_page)
    # Each open phase against the phase next to it: load from elsewhere on the machine
    # changes over seconds, and a pair of neighbouring phases sees nearly the same.
    pairs = Stat.of([page / none for page, none in zip(with_page, without, strict=True)])
    relative = pairs.median
    table = Table(["Dashboard", "submits/s", "vs none", "emulator CPU ms per submit", "vs none"])
    table.add("none", base.fmt(0), "1.00x", cpu_base.fmt(3), "1.00x")
    table.add(
        "one open tab (simulated)",
        opened.fmt(0),
        f"{fmt_ratio(relative)} ({pairs.min:.2f}-{pairs.max:.2f})",
        cpu_opened.fmt(3),
        fmt_ratio(ratio(cpu_opened, cpu_base)),
    )
    intervals = poll_intervals()
    return Section(
        key="dashboard",
        title="8. Dashboard",
        intro=(
            f"Submit rate in phases of {config.dashboard_jobs:,} submits ({_FILL_THREADS} threads "
            "of sync raw httpx), alternating phases with no dashboard and with one open, "
            f"{config.dashboard_phases} of each on each of {config.dashboard_repeats} fresh "
            "emulators (each starting with the other kind); the emulator's CPU time per submit "
            "too, less sensitive to other load on the machine. The "
            "open dashboard is a simulated page client in a process of its own "
            "(`bench/page_client.py`, no browser): "
            "the requests the page's poller makes, at the intervals read from the shipped "
            f"`poller.js` ({intervals['POLL_MIN_MS']:g} s while things change, backing off to "
            f"{intervals['POLL_MAX_MS']:g} s; the overview and the jobs view's first screen of "
            "50). Median (min-max); the submit-rate ratio is the median of each open phase's "
            "rate over its neighbouring phase's without."
        ),
        tables=[table],
        targets=[
            Target(
                "submit rate with one dashboard open, vs none",
                f">= {_TARGET:.2f}x",
                fmt_ratio(relative),
                relative >= _TARGET,
            )
        ],
        notes=[
            f"The page made {page_requests:,} requests in {page_seconds:.0f} s "
            f"({page_requests / max(page_seconds, 1e-9):.1f}/s): during a submit storm every "
            "poll finds a change, so it polls at its fastest and refetches the view each time.",
        ],
        data={
            "without": without,
            "with_page": with_page,
            "cpu_ms_without": cpu_without,
            "cpu_ms_with_page": cpu_with_page,
            "page_requests": page_requests,
            "page_seconds": page_seconds,
        },
    )
