"""The dashboard's pure parts: rates from count samples, fault rules written back as text."""

from __future__ import annotations

import pytest

from together_queue.emulator.dashboard.rates import WINDOW_SECONDS, RateSampler
from together_queue.emulator.dashboard.syntax import rule_spec, syntax_json
from together_queue.emulator.faults import FAULT_KINDS, OPERATIONS, parse_fault


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rates_are_differences_of_samples_over_at_most_a_minute() -> None:
    clock = Clock()
    sampler = RateSampler(clock)
    first = sampler.sample({"m": {"pending": 10}})
    assert first["m"] == {"submitted_per_s": 0.0, "finished_per_s": 0.0, "window_s": 0.0}
    clock.now += 10
    rates = sampler.sample({"m": {"pending": 20, "running": 5, "done": 4, "failed": 1}})
    assert rates["m"] == {"submitted_per_s": 2.0, "finished_per_s": 0.5, "window_s": 10.0}
    # Past the window, the oldest samples are dropped: the rate covers the last minute.
    clock.now += WINDOW_SECONDS
    rates = sampler.sample({"m": {"pending": 20, "running": 5, "done": 4, "failed": 1}})
    assert rates["m"]["submitted_per_s"] == 0.0
    assert rates["m"]["window_s"] == WINDOW_SECONDS


def test_a_model_new_since_the_oldest_sample_counts_from_zero() -> None:
    clock = Clock()
    sampler = RateSampler(clock)
    sampler.sample({})
    clock.now += 4
    assert sampler.sample({"new": {"pending": 8}})["new"]["submitted_per_s"] == 2.0


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
