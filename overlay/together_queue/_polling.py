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
other jobs taught meanwhile; that costs no request. A job not polled yet is taken to have
been claimed like the jobs of its model seen so far, and its first poll waits while it is
unlikely to be done (`Durations.first_poll_at`). Until a handful of a model's jobs have
finished, only a sample of them (`_durations.SAMPLE`) is polled at once, and the other
first polls wait for what it teaches: a request a job spent at the start mostly finds the
job running and teaches little. A single `wait()` keeps the rules above.

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

from together_queue._durations import Durations
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
    finished jobs, and for a job older than any seen, the rules above apply. A job's
    first poll waits (at most `max_interval`) while the model's jobs seen so far say
    it is unlikely to be done yet, or, until a handful of them have finished, while the
    first few dozen polled teach their run times.
    """

    initial: float = 0.25
    multiplier: float = 1.5
    max_interval: float = 5.0
    jitter: float = 0.1
    use_progress: bool = True
    max_consecutive_errors: int = 5
    aim: float = 0.5
    learn: bool = True
    poll_cost: float = 0.2

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


#: How often one learned poll may be planned again before it is sent (`PollState.replan`).
MAX_REPLANS: Final = 1

# What a poll costs (a share of `PollPolicy.poll_cost`) once progress bounds a job's end:
# a poll that misses the end still narrows the bounds for the next one, so it is worth
# more than the lag it saves. Chosen on simulated bulk waits of 500 jobs (uniform,
# lognormal, exponential and two-valued run times, progress in quarters): the lowest
# median lag relative to fixed-interval polling at the same requests a job (0.3-0.6 tried;
# `python -m bench.wait_sim --set _BOUNDED_COST=0.5` runs them).
_BOUNDED_COST: Final = 0.4
# What the polls a job found running at its first poll still needs are worth, in
# `PollPolicy.poll_cost`s (`Durations.first_poll_at`).
_FIRST_POLL_WORTH: Final = 3.0


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
    #: The job's model, when known before its first poll (a bulk wait may defer that poll).
    model: str | None = None
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
    # The wall time the first poll was first due (it is deferred at most `max_interval`).
    _first_due: float | None = None
    _first_sent: bool = False  # counted in `durations` (a sample of first polls)

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
        if self.durations is not None and status.is_terminal:  # not for a lone wait()
            self._count_ended(self.durations, status)
        self.last = status
        self._previous_poll = now
        return changed

    def _count_ended(self, durations: Durations, status: JobStatus) -> None:
        """Tell `durations` the job ended, once (a final status seen again is not counted)."""
        if self.last is None or not self.last.is_terminal:
            durations.ended(status.model)

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
        A first poll waits while the model's jobs seen so far say it is unlikely to find
        the job done (`_defer_first`).
        """
        if self.last is None:
            return self._defer_first(time.time() if wall is None else wall)
        if self._planned is None or self._last_wall is None:
            return None
        wall = time.time() if wall is None else wall
        self._planned = None
        learned = self.learned_remaining(self._last_wall)
        if learned is None or self._last_wall + learned <= wall:
            return None
        return self._plan(wall, self._last_wall + learned)

    def _defer_first(self, wall: float) -> float | None:
        """Seconds to put off the first poll, by what the other jobs of the model taught.

        Within `max_interval` of when it was first due; None to poll now.
        """
        durations, model = self.durations, self.model
        if durations is None or model is None or not self.policy.learn:
            return None
        if self._first_due is None:
            self._first_due = wall
        latest = self._first_due + self.policy.max_interval
        due = durations.first_poll_at(model, wall, self.policy.poll_cost * _FIRST_POLL_WORTH)
        if due is None or due <= wall + MIN_AIMED_DELAY or wall >= latest:
            if not self._first_sent:  # once, though a first poll that fails is sent again
                self._first_sent = True
                durations.first_poll_sent(model)
            return None
        return min(due, latest) - wall

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
            durations.claimed(status.model, claimed)
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
    model: str | None = None
    final: JobStatus | None = None
    _state: PollState = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._state = PollState(self.policy, durations=self.durations, model=self.model)

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
