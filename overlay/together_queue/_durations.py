"""Run times learned from the jobs of one bulk wait: where to poll next (no I/O).

A Nelson-Aalen estimate of each model's hazard rate over age bins, fed by finished
jobs (exact run times from the service's `claimed_at`/`done_at`) and running ones
(right-censored: how long each is known to have run), and the inspection rule that
places a poll where the lag it saves is worth one request. Used by `_polling`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Final

import attrs

# Learned run times (see `Durations`): ages are binned 50 ms wide below 1 s, then 5% wide,
# so a bin is never much wider than the spread a poll interval can resolve at that age.
_LINEAR_WIDTH: Final = 0.05
_LINEAR_BINS: Final = 20  # [0, 1 s)
_RATIO: Final = 1.05
_LOG_RATIO: Final = math.log(_RATIO)
_MAX_AGE: Final = 7 * 86400.0  # ages are clamped here: at most 293 bins per model
#: Finished jobs of a model seen before its learned run times aim any poll.
MIN_FINISHED: Final = 8
# A hazard is read from a window of bins holding at least this many finished jobs ...
_WINDOW_EVENTS: Final = 8
_WINDOW_BINS: Final = 16
# ... and at least this many jobs' worth of survival on average: past that (one slow
# outlier outliving every other job) nothing is learned and the backoff takes over.
_MIN_AT_RISK: Final = 3.0
# Progress rises below this are not steps (and would bound nothing).
_MIN_STEP: Final = 1e-3
# Claim times kept per model to date the jobs not polled yet (`Durations.first_poll_at`).
_CLAIMS: Final = 64
# A first poll is planned from at least this many claims seen ...
_MIN_CLAIMS: Final = 16
# ... over at most this many seconds ahead, in steps of a linear bin.
_FIRST_POLL_SPAN: Final = 5.0
#: Jobs of a model whose first polls go at once while too little is known to plan them
#: (`Durations.first_poll_at`): once a quarter of them have finished, the run times are
#: learned, and the first polls of the others wait for that.
SAMPLE: Final = 4 * MIN_FINISHED
# How often a first poll waiting for the sample looks again, in seconds.
_SAMPLE_RECHECK: Final = 0.1


def _bin(age: float) -> int:
    if age < 1.0:
        return max(0, int(age / _LINEAR_WIDTH))
    return _LINEAR_BINS + int(math.log(min(age, _MAX_AGE)) / _LOG_RATIO)


def _lower_edge(index: int) -> float:
    if index < _LINEAR_BINS:
        return index * _LINEAR_WIDTH
    return float(_RATIO ** (index - _LINEAR_BINS))


# Each bin's lower edge (the last one's upper edge too): looked up on every poll.
_EDGES: Final = tuple(_lower_edge(index) for index in range(_bin(_MAX_AGE) + 2))


@attrs.define
class _Bins:
    """One model's survival data: finished jobs and job-seconds survived, per age bin."""

    events: list[int] = attrs.field(factory=list)
    exposure: list[float] = attrs.field(factory=list)
    finished: int = 0
    step: float | None = None  # the smallest progress value or rise seen
    top: int = -1  # the oldest bin with enough survival seen in it alone
    claims: list[float] = attrs.field(factory=list)  # the latest claim epochs seen (a ring)
    claims_seen: int = 0
    first_polls: int = 0  # first polls sent
    ended: int = 0  # jobs seen done, failed or canceled
    # The last first-poll time planned, and what it was planned from:
    # (finished jobs, claims seen, worth).
    first_poll: tuple[tuple[int, int, float], float] | None = None

    def _grow(self, index: int) -> None:
        missing = index + 1 - len(self.events)
        if missing > 0:
            self.events.extend([0] * missing)
            self.exposure.extend([0.0] * missing)

    def survived(self, start: float, end: float) -> None:
        """Credit one job's survival from age `start` to `end`."""
        if end <= start:
            return
        first, last = _bin(start), _bin(end)
        self._grow(last)
        exposure = self.exposure
        if first == last:
            exposure[first] += end - start
            self._raise_top(last)
            return
        exposure[first] += _EDGES[first + 1] - start
        for index in range(first + 1, last):
            exposure[index] += _EDGES[index + 1] - _EDGES[index]
        exposure[last] += max(0.0, min(end, _EDGES[last + 1]) - _EDGES[last])
        self._raise_top(last)

    def _raise_top(self, index: int) -> None:
        while index > self.top:
            if self.exposure[index] >= _MIN_AT_RISK * (_EDGES[index + 1] - _EDGES[index]):
                self.top = index
                return
            index -= 1

    def hazard(self, index: int) -> float | None:
        """Finishes per job-second near bin `index`; None where too few jobs were seen."""
        if index >= len(self.events):
            return None
        # Pooled with the bins just below (not above: a hazard that starts at some age,
        # say the shortest run time, must not leak to younger ages and draw early polls).
        events, exposure = self.events[index], self.exposure[index]
        low = index
        while events < _WINDOW_EVENTS and low > 0 and index - low < _WINDOW_BINS:
            low -= 1
            events += self.events[low]
            exposure += self.exposure[low]
        width = _EDGES[index + 1] - _EDGES[low]
        if exposure < _MIN_AT_RISK * width:
            return None
        return events / exposure

    def claimed(self, epoch: float) -> None:
        """Keep a seen job's claim time (the latest `_CLAIMS`)."""
        if len(self.claims) < _CLAIMS:
            self.claims.append(epoch)
        else:
            self.claims[self.claims_seen % _CLAIMS] = epoch
        self.claims_seen += 1

    def hazards(self) -> list[float]:
        """Every bin's hazard; where too little was seen, the nearest one below with some.

        `_known_hazard` for every bin at once, in one pass.
        """
        out: list[float] = []
        last = 0.0
        for index in range(len(self.events)):
            known = self.hazard(index)
            last = last if known is None else known
            out.append(last)
        return out


@attrs.define
class Durations:
    """Run times learned from the finished jobs of one bulk wait, per model.

    A Nelson-Aalen estimate over age bins: each finished job adds its exact run time
    (`done_at - claimed_at`, the service's own clock) and every poll of a running job
    the time it is now known to have run (right-censored data), so the estimate is not
    biased towards the short jobs that finish first. Memory is bounded by the bins.
    `next_age` then places the next poll where the expected lag it saves is worth one
    request (`PollPolicy.poll_cost`): none before the shortest run times seen, closer
    together where jobs of that age finish often.
    """

    _models: dict[str, _Bins] = attrs.field(factory=dict)

    def survived(self, model: str, start: float, end: float) -> None:
        """Record that a job of `model` ran from age `start` to at least `end` seconds."""
        self._models.setdefault(model, _Bins()).survived(start, end)

    def finished(self, model: str, start: float, duration: float) -> None:
        """Record a job of `model` known alive at age `start` that finished after `duration`."""
        bins = self._models.setdefault(model, _Bins())
        bins.survived(start, duration)
        index = _bin(duration)
        bins._grow(index)
        bins.events[index] += 1
        bins.finished += 1

    def saw_progress(self, model: str, progress: float, before: float | None) -> None:
        """Record a job of `model` reporting `progress` (`before`: the value it had)."""
        bins = self._models.setdefault(model, _Bins())
        rise = progress if before is None or progress <= before else progress - before
        if rise >= _MIN_STEP and (bins.step is None or rise < bins.step):
            bins.step = rise

    def claimed(self, model: str, epoch: float) -> None:
        """Record the claim time (service epoch seconds) of a job of `model` seen claimed."""
        self._models.setdefault(model, _Bins()).claimed(epoch)

    def ended(self, model: str) -> None:
        """Record a job of `model` seen in a final status (done, failed or canceled)."""
        self._models.setdefault(model, _Bins()).ended += 1

    def first_poll_sent(self, model: str) -> None:
        """Record that the first poll of a job of `model` went (`first_poll_at` counts them)."""
        self._models.setdefault(model, _Bins()).first_polls += 1

    def first_poll_at(self, model: str, now: float, worth: float) -> float | None:
        """When a job of `model` not polled yet is worth a first poll (epoch seconds), or None.

        Such a job is taken to have been claimed like the ones seen (the latest
        `_CLAIMS` claim times) and to run like the finished ones. Putting its first poll
        off to time s adds lag at the rate P(s), the chance it is done by then, and
        saves, at the rate p(s) (the density of its finishing at s), the further polls a
        job found running needs, worth `worth` seconds of lag. The poll goes where the
        first rate reaches the second, at most `_FIRST_POLL_SPAN` seconds on: at once for
        jobs likely done, later for young jobs of a model that runs long. While too little
        is known, None (poll now) until the first polls of `SAMPLE` jobs of the model have
        gone, then a moment later (`_SAMPLE_RECHECK`): what the sample teaches plans the
        rest, instead of a request a job that mostly finds it running. Jobs that end
        without a run time (failed, canceled) end the sample's wait too: a model whose
        jobs all fail is not waited on to teach what it never will.
        """
        bins = self._models.get(model)
        if bins is None:
            return None
        if bins.finished < MIN_FINISHED or len(bins.claims) < _MIN_CLAIMS:
            sampling = bins.first_polls >= SAMPLE and bins.ended < MIN_FINISHED
            return now + _SAMPLE_RECHECK if sampling else None
        # The jobs of a wait come due together: plan once for all until something new is seen.
        known = (bins.finished, bins.claims_seen, worth)
        if bins.first_poll is not None and bins.first_poll[0] == known:
            return max(now, bins.first_poll[1])
        due = _first_poll(bins, now, worth)
        bins.first_poll = (known, due)
        return due

    def known_until(self, model: str) -> float:
        """The age up to which enough jobs of `model` were seen running (0.0: none)."""
        bins = self._models.get(model)
        return 0.0 if bins is None or bins.top < 0 else _EDGES[bins.top + 1]

    def step(self, model: str) -> float | None:
        """The size of `model`'s progress steps, at most: its smallest value or rise seen."""
        bins = self._models.get(model)
        return None if bins is None else bins.step

    def next_age(
        self,
        model: str,
        age: float,
        cost: float,
        span: float,
        bounds: tuple[float, float | None] | None = None,
    ) -> float | None:
        """The age at which to poll a job of `model` running at `age`, at most `span` later.

        `bounds` (earliest, latest): the job is known to end after `earliest` and, unless
        None, by `latest` (from its progress). None while too little is known: fewer than
        `MIN_FINISHED` finished jobs, no jobs like this one at its age, or none of them
        expected to end within the bounds.
        """
        bins = self._models.get(model)
        if bins is None or bins.finished < MIN_FINISHED:
            return None
        hazard = bins.hazard(_bin(age))
        if hazard is None:
            return None  # no jobs like this one at its age: nothing to go by
        earliest, latest = bounds if bounds is not None else (age, None)
        age = max(age, earliest)
        hazard = _known_hazard(bins, _bin(age), hazard)
        # The lag a poll at age t saves, per job alive at `age`, grows as
        # G(t) = integral from `age` to t of P(done by s | alive at `age`) ds; the poll goes
        # where G reaches the cost of a request (Barlow and Proschan's inspection rule in
        # its local form: intervals of sqrt(2 * cost / hazard)). With `latest`, the job is
        # known to end by then, so G is conditioned on that and the poll is at `latest` at most.
        horizon = age + span if latest is None else min(latest, age + span)
        target = cost
        if latest is not None:
            pieces = _segments(bins, age, latest, hazard)
            mass = -math.expm1(-sum(h * n for _, n, h in pieces))
            if mass < 1e-3:
                return None  # the learned run times say it cannot end by then
            target = cost * mass
        return _solve(_segments(bins, age, horizon, hazard), target, horizon)


def _first_poll(bins: _Bins, now: float, worth: float) -> float:
    """The first wall time from `now` where P(s) >= `worth` * p(s) (see `first_poll_at`)."""
    hazards = bins.hazards()
    cumulative = [0.0]  # the cumulative hazard at each bin's lower edge
    for index, hazard in enumerate(hazards):
        cumulative.append(cumulative[-1] + hazard * (_EDGES[index + 1] - _EDGES[index]))
    last = len(hazards) - 1
    wall, end = now, now + _FIRST_POLL_SPAN
    while wall < end:
        done = finishing = 0.0
        for claim in bins.claims:
            age = wall - claim
            if age <= 0:
                continue
            index = min(_bin(age), last)  # past the data, its last hazard goes on
            hazard = hazards[index]
            survival = math.exp(-(cumulative[index] + hazard * (age - _EDGES[index])))
            done += 1.0 - survival
            finishing += hazard * survival
        if done > 0 and done >= worth * finishing:
            return wall
        wall += _LINEAR_WIDTH
    return end


def _known_hazard(bins: _Bins, index: int, default: float) -> float:
    """The hazard at bin `index` or, past the data, at the last bin below it with some."""
    for below in range(min(index, len(bins.events) - 1), -1, -1):
        hazard = bins.hazard(below)
        if hazard is not None:
            return hazard
    return default


def _segments(
    bins: _Bins, start: float, end: float, hazard: float
) -> Iterator[tuple[float, float, float]]:
    """(start, length, hazard) pieces of [start, end] by bin; past the data, the last hazard."""
    index = _bin(start)
    while start < end:
        known = bins.hazard(index)
        hazard = hazard if known is None else known
        stop = min(end, _EDGES[index + 1])
        if stop > start:
            yield start, stop - start, hazard
        start, index = max(start, stop), index + 1


def _solve(segments: Iterator[tuple[float, float, float]], target: float, horizon: float) -> float:
    """The first t with G(t) = target (see `Durations.next_age`), or `horizon`."""
    saved, alive = 0.0, 1.0  # G so far, P(alive | alive at the start)
    for start, length, hazard in segments:

        def gain(t: float, alive: float = alive, hazard: float = hazard) -> float:
            if hazard <= 0:  # nobody finishes here: only those done before add lag
                return t * (1.0 - alive)
            return t - alive * -math.expm1(-hazard * t) / hazard

        whole = saved + gain(length)
        if whole >= target:
            # gain is convex and rising: Newton from the right end converges from above.
            t, value = length, whole
            for _ in range(8):
                slope = 1.0 - alive * math.exp(-hazard * t)
                if value - target < 1e-6 or slope <= 0:
                    break
                t -= (value - target) / slope
                value = saved + gain(t)
            return start + t
        saved = whole
        alive *= math.exp(-hazard * length)
    return horizon
