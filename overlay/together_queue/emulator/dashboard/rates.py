"""Submit and completion rates per model, from samples of the job counts.

Job counts per model and status only grow or move between statuses (jobs are never
deleted), so the jobs submitted between two samples is the difference of their totals,
and the jobs finished the difference of their done + failed counts. Samples are taken
when the dashboard asks, so the store pays nothing per submit.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Mapping

__all__ = ["WINDOW_SECONDS", "RateSampler"]

WINDOW_SECONDS = 60.0
"""The rates cover at most this many seconds before now."""

_FINISHED = ("done", "failed")


class RateSampler:
    """Keeps the count samples of the last minute and turns them into rates."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        """Start with no samples (the first rates come from the second sample)."""
        self._clock = clock
        self._lock = threading.Lock()
        self._samples: collections.deque[tuple[float, dict[str, tuple[int, int]]]] = (
            collections.deque()
        )

    def sample(self, counts: Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, float]]:
        """Record `counts` (model -> status -> n); per model, the rates since the oldest sample.

        Each model maps to `submitted_per_s`, `finished_per_s` and `window_s` (how
        many seconds the rates cover: up to a minute, less while the samples are young).
        """
        now = self._clock()
        totals = {
            model: (sum(by_status.values()), sum(by_status.get(s, 0) for s in _FINISHED))
            for model, by_status in counts.items()
        }
        with self._lock:
            while self._samples and now - self._samples[0][0] > WINDOW_SECONDS:
                self._samples.popleft()
            oldest = self._samples[0] if self._samples else None
            if not self._samples or now - self._samples[-1][0] >= 1.0:
                self._samples.append((now, totals))
        rates: dict[str, dict[str, float]] = {}
        for model, (submitted, finished) in totals.items():
            if oldest is None or now <= oldest[0]:
                rates[model] = {"submitted_per_s": 0.0, "finished_per_s": 0.0, "window_s": 0.0}
                continue
            then_submitted, then_finished = oldest[1].get(model, (0, 0))
            window = now - oldest[0]
            rates[model] = {
                "submitted_per_s": (submitted - then_submitted) / window,
                "finished_per_s": (finished - then_finished) / window,
                "window_s": window,
            }
        return rates
