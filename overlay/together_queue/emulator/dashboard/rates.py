"""Submit and completion rates per model over the last minute, from samples of job counts.

Jobs are never deleted, and done and failed are final, so per model the number of jobs
and the number of done + failed jobs only grow: the jobs submitted (finished) between
two samples is the difference of those totals. Samples are taken when the dashboard
asks, so the store pays nothing per submit. When no sample is recent enough, the store
is asked once for the totals as they were a minute ago (a scan of the jobs' times), so
the first answer already covers the whole minute.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Mapping

__all__ = ["WINDOW_SECONDS", "RateSampler", "Totals"]

WINDOW_SECONDS = 60.0
"""The rates cover this many seconds before now."""

Totals = dict[str, tuple[int, int]]
"""Per model: (jobs submitted, jobs finished: done or failed)."""

_FINISHED = ("done", "failed")


class RateSampler:
    """Keeps the count samples of the last minute and turns them into rates."""

    def __init__(
        self, totals_at: Callable[[float], Totals], clock: Callable[[], float] = time.time
    ) -> None:
        """`totals_at(t)`: the totals as they were at time `t` (seeds an empty window)."""
        self._totals_at = totals_at
        self._clock = clock
        self._lock = threading.Lock()
        self._samples: collections.deque[tuple[float, Totals]] = collections.deque()

    def sample(self, counts: Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, float]]:
        """Record `counts` (model -> status -> n); per model, the rates over the last minute.

        Each model maps to `submitted_per_s`, `finished_per_s` and `window_s`, the seconds
        the rates cover: a minute, or up to two when the page polled rarely.
        """
        now = self._clock()
        totals = {
            model: (sum(by_status.values()), sum(by_status.get(s, 0) for s in _FINISHED))
            for model, by_status in counts.items()
        }
        with self._lock:
            # Keep the newest sample at least a minute old: it is where the window starts.
            while len(self._samples) > 1 and now - self._samples[1][0] >= WINDOW_SECONDS:
                self._samples.popleft()
            if not self._samples or now - self._samples[0][0] > 2 * WINDOW_SECONDS:
                self._samples.clear()
                start = now - WINDOW_SECONDS
                self._samples.append((start, self._totals_at(start)))
            oldest = self._samples[0]
            if now - self._samples[-1][0] >= 1.0:
                self._samples.append((now, totals))
        window = now - oldest[0]
        rates: dict[str, dict[str, float]] = {}
        for model, (submitted, finished) in totals.items():
            then_submitted, then_finished = oldest[1].get(model, (0, 0))
            rates[model] = {
                "submitted_per_s": (submitted - then_submitted) / window,
                "finished_per_s": (finished - then_finished) / window,
                "window_s": window,
            }
        return rates
