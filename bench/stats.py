"""Summaries of repeated measurements: median with min and max, ratios, and number formats."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import attrs


@attrs.frozen
class Stat:
    """A figure measured several times: its median, min and max."""

    values: tuple[float, ...]

    @classmethod
    def of(cls, values: Sequence[float]) -> Stat:
        """A Stat over `values` (at least one)."""
        if not values:
            raise ValueError("a Stat needs at least one value")
        return cls(tuple(float(v) for v in values))

    @property
    def median(self) -> float:
        """The median of the runs."""
        return statistics.median(self.values)

    @property
    def min(self) -> float:
        """The smallest run."""
        return min(self.values)

    @property
    def max(self) -> float:
        """The largest run."""
        return max(self.values)

    def fmt(self, digits: int = 1, scale: float = 1.0) -> str:
        """`median (min-max)` with `digits` decimals, values multiplied by `scale`."""
        med, lo, hi = self.median * scale, self.min * scale, self.max * scale
        if len(self.values) == 1:
            return f"{med:,.{digits}f} (n=1)"
        return f"{med:,.{digits}f} ({lo:,.{digits}f}-{hi:,.{digits}f})"


def ratio(numerator: Stat, denominator: Stat) -> float:
    """Ratio of the medians (inf when the denominator's median is 0)."""
    if denominator.median == 0:
        return float("inf")
    return numerator.median / denominator.median


def paired_ratio(numerators: Sequence[float], denominators: Sequence[float]) -> float:
    """The median of `numerators[i] / denominators[i]`: each measured beside its pair.

    Drift of the machine between rounds moves both members of a pair alike, so it
    cancels in their ratio, where a ratio of medians would keep it.
    """
    if not numerators:
        raise ValueError("paired_ratio needs at least one pair")
    pairs = zip(numerators, denominators, strict=True)
    return statistics.median(n / d if d else float("inf") for n, d in pairs)


def fmt_ratio(value: float) -> str:
    """A ratio as `1.23x`."""
    return "n/a" if value != value else f"{value:.2f}x"  # NaN check


def percentile(values: Sequence[float], fraction: float) -> float:
    """The `fraction` quantile of `values` (nearest rank; values need not be sorted)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]
