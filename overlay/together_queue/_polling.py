"""When to ask for a job's status next: the polling policy and its per-job state (no I/O).

Polling starts fast (short jobs are seen soon after they finish), backs off with
jitter up to a ceiling (long jobs cost few requests), and, when the model
reports `info.progress`, aims the next poll instead:

- a job first seen at progress p after running t seconds (since its `claimed_at`)
  ends by about t / p if its progress is even (at 50% after t seconds, near 2t);
  not before now, nor before t' / p if a poll at t' saw less than p. The next poll
  goes at the `PollPolicy.aim` share of that span (progress reported in steps runs
  ahead of even progress, so it is aimed short of the latest end);
- failing that, at the finish estimated from two observations on the client's own
  clock.

A bulk wait (`wait_all`, `as_completed`) also learns from the jobs it waits on
(`Durations`): each finished job's run time (`done_at - claimed_at`) and how long each
running one has run so far. Once a handful of jobs of a model have finished, a running
job of that model is next polled where the lag the poll would save, given the run times
seen, is worth one request (`PollPolicy.poll_cost`): not before the shortest run times,
more often at ages where jobs often end. Without learning, no schedule blind to the run
times beats polling at a fixed interval on median lag for as many requests; with it, a
batch of similar jobs is seen done sooner for fewer requests. Progress narrows what is
learned to the ages its bounds allow, including, from the model's smallest progress step,
a lower bound for a job still below its next step. A poll aimed past the ages seen so far
(where the estimate is extrapolated) is planned again, once, halfway there, with what the
other jobs taught meanwhile; that costs no request. A single `wait()` keeps the rules above.

A job's age compares the client's clock with the service's `claimed_at`: a skewed
clock only moves aimed polls, within `MIN_AIMED_DELAY` and `max_interval`.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Final, Generic, TypeVar

import attrs

from together_queue._models import JobStatus
from together_queue.errors import (
    APIConnectionError,
    JobCanceled,
    JobFailed,
    RateLimitError,
    ServerError,
    WaitTimeout,
)

if TYPE_CHECKING:
    from together_queue.jobs import AsyncJob, Job

K = TypeVar("K")
# Errors a long wait rides out (bounded by its deadline and by `max_consecutive_errors`).
TRANSIENT_ERRORS: Final = (APIConnectionError, RateLimitError, ServerError)
# One jitter source for every waiter: a Random per job costs 2.5 KB of state each.
_JITTER: Final = random.Random()  # noqa: S311 - jitter, not secrets
#: The shortest delay an aimed poll waits, in seconds.
MIN_AIMED_DELAY: Final = 0.05


@attrs.frozen
class PollPolicy:
    """How often `wait()` polls: exponential backoff with jitter, capped.

    `initial` is the first delay in seconds, multiplied by `multiplier` after
    each poll up to `max_interval`; each delay is randomised by +/- `jitter`
    (a fraction) so that many waiters do not poll in lockstep. With
    `use_progress`, a running job whose `info.progress` has moved is next
    polled at its estimated finish instead (clamped to [`initial`,
    `max_interval`]), which saves polls on long jobs and cuts the lag on short
    ones: at the `aim` share of the time its progress bound leaves (see the module
    docstring). A wait survives up to `max_consecutive_errors` transient errors in a
    row (rate limits, 5xx, connection errors) before raising.

    With `learn`, the bulk waits (`wait_all`, `as_completed`) learn run times from the
    jobs they see finish and poll a running job where the lag a poll would save is
    worth `poll_cost` seconds (a request's price in lag; larger: fewer requests, later
    detection), within [0.05 s, `max_interval`]; until a model has a handful of
    finished jobs, and for a job older than any seen, the rules above apply.
    """

    initial: float = 0.25
    multiplier: float = 1.5
    max_interval: float = 5.0
    jitter: float = 0.1
    use_progress: bool = True
    max_consecutive_errors: int = 5
    aim: float = 0.5
    learn: bool = True
    poll_cost: float = 0.16

    def __attrs_post_init__(self) -> None:
        # Checked by hand: attrs.validators costs a few ms of import time for these checks.
        for name in ("initial", "multiplier", "max_interval", "jitter", "aim", "poll_cost"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"{name} must be a number, got {type(value).__name__}")
            if not math.isfinite(value):
                raise ValueError(f"{name} must be finite, got {value}")
        if not self.initial > 0:
            raise ValueError(f"initial must be > 0, got {self.initial}")
        if not self.multiplier >= 1:
            raise ValueError(f"multiplier must be >= 1, got {self.multiplier}")
        if not self.max_interval >= self.initial:
            # Otherwise every delay after the first is the smaller max_interval: a policy
            # asking for 1 s would poll every millisecond.
            raise ValueError(
                f"max_interval must be >= initial ({self.initial}), got {self.max_interval}"
            )
        if not 0 <= self.jitter < 1:
            raise ValueError(f"jitter must be in [0, 1), got {self.jitter}")
        if not 0 < self.aim <= 1:
            raise ValueError(f"aim must be in (0, 1], got {self.aim}")
        if not self.poll_cost > 0:
            raise ValueError(f"poll_cost must be > 0, got {self.poll_cost}")
        count = self.max_consecutive_errors
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"max_consecutive_errors must be an int >= 0, got {count!r}")


# Learned run times (see `Durations`): ages are binned 50 ms wide below 1 s, then 5% wide,
# so a bin is never much wider than the spread a poll interval can resolve at that age.
_LINEAR_WIDTH: Final = 0.05
_LINEAR_BINS: Final = 20  # [0, 1 s)
_RATIO: Final = 1.05
_LOG_RATIO: Final = math.log(_RATIO)
_MAX_AGE: Final = 7 * 86400.0  # ages are clamped here: at most 293 bins per model
#: How often one learned poll may be planned again before it is sent (`PollState.replan`).
MAX_REPLANS: Final = 1
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
# What a poll costs (a share of `PollPolicy.poll_cost`) once progress bounds a job's end:
# a poll that misses the end still narrows the bounds for the next one, so it is worth
# more than the lag it saves. Chosen on simulated waits (uniform, normal, lognormal and
# exponential run times, progress in quarters): at equal requests, lower lag than 1.
_BOUNDED_COST: Final = 0.5


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


@attrs.define
class PollState:
    """The polling state of one job: its current interval and progress history.

    Progress is estimated from when it was seen to move, on the client's own
    clock: from the first value seen (`anchor`) to the latest change, dated
    halfway between the poll that last saw the old value and the one that saw
    the new. Models often report progress in steps, and the halfway date keeps
    the estimate honest about when a step happened.
    """

    policy: PollPolicy
    interval: float = 0.0
    last: JobStatus | None = None
    errors_in_a_row: int = 0
    #: Run times shared by the jobs of one bulk wait (None: a lone `wait()`, nothing to learn).
    durations: Durations | None = None
    _anchor: tuple[float, float] | None = None  # (client time, progress) first seen
    _change: tuple[float, float] | None = None  # (estimated client time, progress) last change
    _previous_poll: float | None = None
    _overdue: bool = False
    # (progress, wall time first seen at it) and the wall time of the last poll below it
    _level: tuple[float, float] | None = None
    _below: float | None = None
    _last_wall: float | None = None
    # The claim (service epoch) and how long it is known to have run, for `durations`
    _claim: float | None = None
    _known: float = 0.0
    # The wall time of a learned poll aimed past what is known yet: planned again, with
    # what the other jobs teach meanwhile, before it is sent (`replan`).
    _planned: float | None = None
    _replans: int = 0

    def __attrs_post_init__(self) -> None:
        self.interval = self.policy.initial

    def observe(self, status: JobStatus, now: float, wall: float | None = None) -> bool:
        """Record a status seen at `now` (`wall`: `time.time()`); True when it changed."""
        changed = self.last is None or (self.last.status, self.last.info) != (
            status.status,
            status.info,
        )
        self.errors_in_a_row = 0
        wall = time.time() if wall is None else wall
        self._track_progress(status, now)
        self._track_level(status, wall)
        self._track_run_time(status, wall)
        self.last = status
        self._previous_poll = now
        return changed

    def observe_error(self, error: Exception) -> float:
        """Record a transient error; the delay before trying again, or re-raise when too many."""
        self.errors_in_a_row += 1
        if self.errors_in_a_row > self.policy.max_consecutive_errors:
            raise error
        if isinstance(error, RateLimitError) and error.retry_after is not None:
            return max(error.retry_after, self.policy.initial)
        return self._backoff()

    def next_delay(self, now: float, wall: float | None = None) -> float:
        """Seconds until the next poll, after the observation just recorded.

        `wall` is `time.time()` at the observation (for the job's age), now if not given.
        """
        wall = time.time() if wall is None else wall
        self._planned, self._replans = None, 0
        learned = self.learned_remaining(wall)
        if learned is not None:
            self._overdue = False
            self._backoff()  # keep the backoff growing for when the learned times run out
            return self._plan(wall, wall + learned)
        aimed = self.aimed_remaining(wall)
        if aimed is not None:
            self._overdue = False
            self._backoff()  # keep the backoff growing for when aims run out
            return min(max(aimed, MIN_AIMED_DELAY), self.policy.max_interval)
        estimate = self.estimated_remaining(now)
        if estimate:
            self._overdue = False
            self._backoff()  # keep the backoff growing for when estimates run out
            return min(max(estimate, self.policy.initial), self.policy.max_interval)
        if estimate == 0.0 and not self._overdue:
            # The estimated finish has passed: the end is near, so restart the backoff
            # from `initial` once, rather than polling at the long interval reached so far.
            self._overdue = True
            self.interval = self.policy.initial
        return self._backoff()

    def replan(self, wall: float | None = None) -> float | None:
        """At a due poll: None to send it, or seconds to wait first (a poll planned anew).

        A learned poll aimed past the ages known when it was planned is planned again
        from the same observation with what is known now; it may come sooner or later.
        """
        if self._planned is None or self._last_wall is None:
            return None
        wall = time.time() if wall is None else wall
        self._planned = None
        learned = self.learned_remaining(self._last_wall)
        if learned is None or self._last_wall + learned <= wall:
            return None
        return self._plan(wall, self._last_wall + learned)

    def _plan(self, wall: float, due: float) -> float:
        """The delay to `due` from `wall`; past what is known, to halfway, to plan again."""
        last, known = self.last, math.inf
        if self.durations is not None and last is not None and last.claimed_at is not None:
            known = last.claimed_at.timestamp() + self.durations.known_until(last.model)
        if due > max(known, wall) + MIN_AIMED_DELAY and self._replans < MAX_REPLANS:
            self._planned = due
            self._replans += 1
            return max(MIN_AIMED_DELAY, (due - wall) / 2)
        return due - wall

    def learned_remaining(self, wall: float) -> float | None:
        """Seconds to the next poll by the run times of finished jobs (`Durations`), or None."""
        last = self.last
        if self.durations is None or not self.policy.learn or last is None:
            return None
        if last.status != "running" or last.claimed_at is None:
            return None
        age = max(0.0, wall - last.claimed_at.timestamp())
        step = self.durations.step(last.model)
        bounds = self._bounds(wall, step) if self.policy.use_progress else None
        cost = self.policy.poll_cost
        if bounds is not None and bounds[2] is not None:
            cost *= _BOUNDED_COST
        target = self.durations.next_age(
            last.model, age, cost, self.policy.max_interval, None if bounds is None else bounds[1:]
        )
        if target is None:
            return None
        return min(max(target - age, MIN_AIMED_DELAY), self.policy.max_interval)

    def aimed_remaining(self, wall: float) -> float | None:
        """Seconds to the next poll aimed by the progress bounds (see the module), or None."""
        bounds = self._bounds(wall, None)
        if bounds is None:
            return None
        age, earliest, latest = bounds
        if latest is None:
            return None
        return earliest + (latest - earliest) * self.policy.aim - age

    def _bounds(self, wall: float, step: float | None) -> tuple[float, float, float | None] | None:
        """(age, earliest, latest): the ages the job ends between, by its progress.

        None without progress, or when it contradicts even progress. With `step` (the
        size of the model's progress steps), the next step not reached yet is a bound too.
        """
        level = self._level
        if level is None or self.last is None or self.last.claimed_at is None:
            return None
        progress, first_seen = level
        claimed = self.last.claimed_at.timestamp()
        age = earliest = max(0.0, wall - claimed)
        if step is not None:  # `progress + step` not reached yet
            earliest = age / min(1.0, progress + step)
        if not progress:
            return age, earliest, None
        latest = max(0.0, first_seen - claimed) / progress  # `progress` was reached by then
        if self._below is not None:  # not reached yet then
            earliest = max(earliest, max(0.0, self._below - claimed) / progress)
        if latest <= earliest:
            return None  # later than even progress would say: back to the backoff
        return age, earliest, latest

    def estimated_remaining(self, now: float) -> float | None:
        """Seconds until the job should finish, from its progress; None without an estimate."""
        if not self.policy.use_progress or self._anchor is None or self._change is None:
            return None
        (t0, p0), (t1, p1) = self._anchor, self._change
        if t1 <= t0 or p1 <= p0:
            return None
        rate = (p1 - p0) / (t1 - t0)
        return max(0.0, (1.0 - p1) / rate - (now - t1))

    def _backoff(self) -> float:
        delay = self.interval
        self.interval = min(self.interval * self.policy.multiplier, self.policy.max_interval)
        spread = delay * self.policy.jitter
        return max(0.0, delay + _JITTER.uniform(-spread, spread))

    def _track_level(self, status: JobStatus, wall: float) -> None:
        progress = status.progress if status.status == "running" else None
        if progress == 0 and self.durations is None:
            progress = None  # a lone wait has no step size to bound anything with 0 by
        if not self.policy.use_progress or progress is None:
            self._level = self._below = None
        elif self._level is None or progress != self._level[0]:
            before = None if self._level is None else self._level[0]
            raised = before is not None and progress > before
            self._below = self._last_wall if raised else None
            self._level = (progress, wall)
            if self.durations is not None:
                self.durations.saw_progress(status.model, progress, before)
        self._last_wall = wall

    def _track_run_time(self, status: JobStatus, wall: float) -> None:
        durations = self.durations
        if durations is None or status.claimed_at is None:
            return
        claimed = status.claimed_at.timestamp()
        if claimed != self._claim:  # first seen, or claimed again after a retry
            self._claim, self._known = claimed, 0.0
        if status.status == "running":
            age = wall - claimed
            durations.survived(status.model, self._known, age)
            self._known = max(self._known, age)
        elif status.status == "done" and status.done_at is not None:
            durations.finished(status.model, self._known, status.done_at.timestamp() - claimed)

    def _track_progress(self, status: JobStatus, now: float) -> None:
        progress = status.progress if status.status == "running" else None
        if progress is None:
            self._anchor = self._change = None
        elif self._anchor is None or progress < self._anchor[1]:
            self._anchor, self._change = (now, progress), None  # (re)started
        elif progress > (self._change or self._anchor)[1]:
            since = self._previous_poll if self._previous_poll is not None else now
            self._change = ((since + now) / 2, progress)


@attrs.define
class PollSchedule(Generic[K]):
    """A min-heap of keys by the time they are next due, for polling many jobs from one loop."""

    _heap: list[tuple[float, int, K]] = attrs.field(factory=list)
    _counter: Iterator[int] = attrs.field(factory=itertools.count)

    def add(self, key: K, due: float) -> None:
        """Schedule `key` for time `due` (monotonic seconds)."""
        heapq.heappush(self._heap, (due, next(self._counter), key))

    def pop_due(self, now: float, limit: int) -> list[K]:
        """Remove and return up to `limit` keys due at or before `now`, earliest first."""
        due: list[K] = []
        while self._heap and self._heap[0][0] <= now and len(due) < limit:
            due.append(heapq.heappop(self._heap)[2])
        return due

    def next_due(self) -> float | None:
        """The earliest due time, or None when empty."""
        return self._heap[0][0] if self._heap else None

    def __len__(self) -> int:
        return len(self._heap)


@attrs.define
class Waiter:
    """The decisions of one `wait()`: feed it each poll's outcome, get the next delay.

    I/O-free so the sync and async clients, and the bulk helpers, share it.
    `feed` returns None when the job reached a terminal status (then `final`
    holds it), raises `JobFailed`/`JobCanceled` for a failed/canceled job when
    `raise_on_failure`, `WaitTimeout` (carrying `job`, the handle waited on) past
    the deadline, and re-raises errors that are not transient (or transient ones past
    the policy's patience).
    """

    label: str
    policy: PollPolicy
    deadline: float | None
    on_update: Callable[[JobStatus], object] | None = None
    raise_on_failure: bool = True
    job: Job | AsyncJob | None = None
    durations: Durations | None = None
    final: JobStatus | None = None
    _state: PollState = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._state = PollState(self.policy, durations=self.durations)

    @property
    def last(self) -> JobStatus | None:
        """The last status observed, if any."""
        return self._state.last

    def feed(self, outcome: JobStatus | BaseException, now: float) -> float | None:
        """Take one poll's outcome observed at `now`; return seconds to the next poll or None."""
        if isinstance(outcome, BaseException):
            if not isinstance(outcome, TRANSIENT_ERRORS):
                raise outcome
            if self.deadline is not None and now >= self.deadline:
                raise self._timeout() from outcome
            delay = self._state.observe_error(outcome)
            asked = outcome.retry_after if isinstance(outcome, RateLimitError) else None
            if self.deadline is not None and asked is not None and now + asked >= self.deadline:
                # The service asked for a wait that outlasts the deadline: say so now.
                raise self._timeout() from outcome
        else:
            if self._state.observe(outcome, now) and self.on_update is not None:
                self.on_update(outcome)
            if outcome.is_terminal:
                self._finish(outcome)
                return None
            delay = self._state.next_delay(now)
        if self.deadline is not None:
            remaining = self.deadline - now
            if remaining <= 0:
                raise self._timeout()
            delay = min(delay, remaining)
        return delay

    def replan(self, now: float) -> float | None:
        """At a due poll (`now`: monotonic): None to send it, or seconds to wait first.

        See `PollState.replan`; never past the deadline.
        """
        delay = self._state.replan()
        if delay is None or self.deadline is None:
            return delay
        remaining = self.deadline - now
        return min(delay, remaining) if remaining > 0 else None

    def _timeout(self) -> WaitTimeout:
        last = self._state.last
        seen = f"; last status {last.status!r}" if last else ""
        return WaitTimeout(
            f"{self.label} did not finish in time{seen}",
            last_status=last,
            job=self.job,
        )

    def _finish(self, status: JobStatus) -> None:
        self.final = status
        if self.raise_on_failure and status.status == "canceled":
            raise JobCanceled(status)
        if self.raise_on_failure and status.status == "failed":
            raise JobFailed(status)
