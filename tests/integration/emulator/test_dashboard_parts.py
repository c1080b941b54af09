"""The dashboard's pure parts: rates from count samples, fault rules written back as text."""

from __future__ import annotations

import pytest

from together_queue.emulator.dashboard.rates import WINDOW_SECONDS, RateSampler, Totals
from together_queue.emulator.dashboard.syntax import rule_spec, syntax_json
from together_queue.emulator.faults import FAULT_KINDS, OPERATIONS, parse_fault


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_first_rates_cover_the_minute_before_from_the_store_totals() -> None:
    clock = Clock()
    asked: list[float] = []

    def totals_at(moment: float) -> Totals:
        asked.append(moment)
        return {"m": (4, 1)}

    sampler = RateSampler(totals_at, clock)
    rates = sampler.sample({"m": {"pending": 9, "done": 3, "failed": 1}})
    assert asked == [clock.now - WINDOW_SECONDS]
    assert rates["m"] == {"submitted_per_s": 0.15, "finished_per_s": 0.05, "window_s": 60.0}


def test_later_rates_come_from_samples_at_least_a_minute_old() -> None:
    clock = Clock()
    sampler = RateSampler(lambda moment: {}, clock)
    sampler.sample({"m": {"pending": 0}})
    for second in range(1, 91):
        clock.now += 1
        rates = sampler.sample({"m": {"pending": second * 2, "done": second}})
    # The window starts at the newest sample that is a minute old: 60 s, 120 jobs.
    assert rates["m"]["window_s"] == 60.0
    assert rates["m"]["submitted_per_s"] == 3.0
    assert rates["m"]["finished_per_s"] == 1.0


def test_a_window_left_unsampled_too_long_is_seeded_again() -> None:
    clock = Clock()
    asked: list[float] = []

    def totals_at(moment: float) -> Totals:
        asked.append(moment)
        return {}

    sampler = RateSampler(totals_at, clock)
    sampler.sample({})
    clock.now += 10 * WINDOW_SECONDS
    assert sampler.sample({"m": {"pending": 6}})["m"]["window_s"] == WINDOW_SECONDS
    assert len(asked) == 2


@pytest.mark.parametrize(
    "spec",
    [
        "submit:500:0.1:after",
        "status:429:next=2:before:retry_after=3",
        "*:latency:1:seconds=0.05",
        "submit:drop:next=1:after",
        "update:500:0.333333333",
    ],
)
def test_rule_spec_reads_back_as_the_same_rule(spec: str) -> None:
    rule = parse_fault(spec)
    assert parse_fault(rule_spec(rule)) == rule


def test_the_syntax_words_are_the_parsers_words() -> None:
    words = syntax_json()
    assert words["fault"]["operations"] == [*OPERATIONS, "*"]
    assert words["fault"]["kinds"] == list(FAULT_KINDS)
    assert words["rate_limit"]["operations"] == [*OPERATIONS, "*"]
