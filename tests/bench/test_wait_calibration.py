"""The fixed-interval baseline of the waiting bench spends what ours spent."""

from __future__ import annotations

import math

from bench.sec_wait import equal_cost_interval


def _cost(remaining: list[float], interval: float, at_once: bool) -> float:
    polls = [
        (1 + max(0, math.ceil(r / interval))) if at_once else max(1, math.ceil(r / interval))
        for r in remaining
    ]
    return sum(polls) / len(polls)


def test_the_interval_polls_at_once_when_that_can_spend_as_little() -> None:
    remaining = [-0.5, 0.4, 1.3, 2.2, 3.1, 4.0]
    interval, at_once = equal_cost_interval(remaining, 3.0)
    assert at_once
    assert _cost(remaining, interval, True) <= 3.0 < _cost(remaining, interval * 0.99, True)


def test_the_first_poll_waits_when_ours_spent_less_than_polling_at_once_can() -> None:
    # Half the jobs finished before waiting began: polling at once costs at least 1.5 a job.
    remaining = [-2.0, -1.0, -0.5, 0.5, 1.0, 2.0]
    interval, at_once = equal_cost_interval(remaining, 1.2)
    assert not at_once
    assert interval < 60.0  # found, not the search's upper end
    assert _cost(remaining, interval, False) <= 1.2
