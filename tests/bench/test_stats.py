"""The bench's summaries and pairing: paired ratios, and the order of a pair's runs."""

from __future__ import annotations

import pytest

from bench.stats import paired_ratio


def test_a_paired_ratio_cancels_drift_that_a_ratio_of_medians_keeps() -> None:
    # The machine slows down over the rounds; each pair is measured side by side at 0.9x.
    cli = [90.0, 180.0, 270.0, 360.0]
    library = [100.0, 200.0, 300.0, 400.0]
    assert paired_ratio(cli, library) == pytest.approx(0.9)
    # Paired by position, not sorted apart: the same rates in another order pair otherwise.
    assert paired_ratio(cli, library[::-1]) != pytest.approx(0.9)


def test_paired_ratio_needs_pairs() -> None:
    with pytest.raises(ValueError, match="at least one pair"):
        paired_ratio([], [])
    with pytest.raises(ValueError):
        paired_ratio([1.0, 2.0], [1.0])


def test_the_scale_pair_takes_turns_running_first() -> None:
    from bench.sec_scale import _pair_order

    orders = [_pair_order(round_) for round_ in range(4)]
    # Each round runs both sides once; over the rounds each side is first as often.
    assert all(sorted(order) == ["cli", "library"] for order in orders)
    assert [order[0] for order in orders] == ["cli", "library", "cli", "library"]
