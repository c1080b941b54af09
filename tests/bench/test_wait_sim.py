"""The wait simulator (`bench.wait_sim`): the planner on a simulated clock, left as it was found."""

from __future__ import annotations

import math
import time

import pytest

import together_queue._bulk as bulk_module
import together_queue._durations as durations_module
import together_queue._polling as polling_module
from bench import wait_sim
from together_queue import PollPolicy

RUNS = [0.2 + 0.05 * k for k in range(60)]  # 0.2 to 3.15 s


def test_every_job_is_seen_done_after_it_ended_for_at_least_one_request() -> None:
    result = wait_sim.simulate(PollPolicy(), RUNS, progress=True, seed=1)
    assert all(count >= 1 for count in result.requests)
    assert all(0 <= lag < 5.0 for lag in result.lags), result.lags  # none left unseen (nan)
    # Each job ends its run time after its own submit, the wait starting after the last one.
    for run, left, job in zip(RUNS, result.remaining, range(len(RUNS)), strict=True):
        submitted = wait_sim.SUBMIT_SECONDS * ((job + 1) / len(RUNS) - 1)
        assert run <= left - submitted <= run * 1.01 + 0.003


def test_a_simulated_wait_takes_no_real_time_and_repeats_exactly() -> None:
    jitter = polling_module._JITTER.getstate()
    started = time.monotonic()
    first = wait_sim.simulate(PollPolicy(), RUNS, progress=True, seed=3)
    # The jobs run for up to 3 s of simulated time; a real clock leaking in would show.
    assert time.monotonic() - started < 2.0
    assert wait_sim.simulate(PollPolicy(), RUNS, progress=True, seed=3) == first
    # The planner reads the real clock, and draws its jitter where it was, afterwards.
    assert polling_module.__dict__["time"] is time
    assert bulk_module.__dict__["time"] is time
    assert polling_module._JITTER.getstate() == jitter


def test_polling_oftener_costs_more_requests_and_finds_jobs_sooner() -> None:
    cheap = wait_sim.simulate(PollPolicy(poll_cost=1.0), RUNS, progress=False, seed=2)
    dear = wait_sim.simulate(PollPolicy(poll_cost=0.05), RUNS, progress=False, seed=2)
    assert sum(dear.requests) > sum(cheap.requests)
    assert sorted(dear.lags)[30] < sorted(cheap.lags)[30]


def test_fixed_polling_at_fewer_requests_sees_jobs_later() -> None:
    often = wait_sim.fixed_median_lag(RUNS, requests_per_job=6.0)
    seldom = wait_sim.fixed_median_lag(RUNS, requests_per_job=2.0)
    assert 0 <= often < seldom


def test_settings_change_constants_for_the_block_only() -> None:
    found = polling_module._BOUNDED_COST, durations_module.SAMPLE
    with wait_sim.constants(["_BOUNDED_COST=0.7", "SAMPLE=10", "poll_cost=0.3", "learn=0"]) as f:
        assert (polling_module._BOUNDED_COST, durations_module.SAMPLE) == (0.7, 10)
        assert type(durations_module.SAMPLE) is int
        assert PollPolicy(**f) == PollPolicy(poll_cost=0.3, learn=False)
    assert found == (polling_module._BOUNDED_COST, durations_module.SAMPLE)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("_NO_SUCH=1", "no constant '_NO_SUCH'"),
        ("colour=1", "neither a constant nor a PollPolicy field"),
        ("poll_cost", "NAME=VALUE"),
    ],
)
def test_a_bad_setting_is_refused_by_name_and_changes_nothing(setting: str, message: str) -> None:
    found = polling_module._BOUNDED_COST
    with (
        pytest.raises(ValueError, match=message),
        wait_sim.constants(["_BOUNDED_COST=0.9", setting]),
    ):
        pass
    assert found == polling_module._BOUNDED_COST


def test_the_command_prints_a_line_per_workload(capsys: pytest.CaptureFixture[str]) -> None:
    assert wait_sim.main(["--seeds", "1", "--workload", "short", "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "no progress" in lines[0]
    assert lines[1].startswith("short") and "fixed polling" in lines[1]
    assert not math.isnan(float(lines[1].split("requests a job")[1].split()[0]))
