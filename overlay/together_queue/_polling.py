"""When to ask for a job's status next: the polling policy and its per-job state (no I/O).

Polling starts fast (short jobs are seen soon after they finish), backs off with
jitter up to a ceiling (long jobs cost few requests), and, when the model
reports `info.progress`, aims the next poll at the estimated finish instead.
The estimate uses two observations on the client's own clock, so server clock
skew cannot mislead it.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable, Iterator
from typing import Final, Generic, TypeVar

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

K = TypeVar("K")
# Errors a long wait rides out (bounded by its deadline and by `max_consecutive_errors`).
TRANSIENT_ERRORS: Final = (APIConnectionError, RateLimitError, ServerError)


@attrs.frozen
class PollPolicy:
    """How often `wait()` polls: exponential backoff with jitter, capped.

    `initial` is the first delay in seconds, multiplied by `multiplier` after
    each poll up to `max_interval`; each delay is randomised by +/- `jitter`
    (a fraction) so that many waiters do not poll in lockstep. With
    `use_progress`, a job reporting `info.progress` is next polled around its
    estimated finish (never sooner than `initial`, never later than the
    backoff delay). A wait survives up to `max_consecutive_errors` transient
    errors in a row (rate limits, 5xx, connection errors) before raising.
    """

    initial: float = attrs.field(default=0.2, validator=attrs.validators.gt(0))
    multiplier: float = attrs.field(default=1.5, validator=attrs.validators.ge(1))
    max_interval: float = attrs.field(default=5.0, validator=attrs.validators.gt(0))
    jitter: float = attrs.field(
        default=0.1, validator=[attrs.validators.ge(0), attrs.validators.lt(1)]
    )
    use_progress: bool = True
    max_consecutive_errors: int = attrs.field(default=5, validator=attrs.validators.ge(0))


@attrs.define
class PollState:
    """The polling state of one job: its current interval and progress history."""

    policy: PollPolicy
    interval: float = 0.0
    last: JobStatus | None = None
    errors_in_a_row: int = 0
    _progress_seen: tuple[float, float] | None = None  # (client time, progress)
    _rate: float | None = None  # progress per second, when two observations allow it
    _rng: random.Random = attrs.field(factory=random.Random)

    def __attrs_post_init__(self) -> None:
        self.interval = self.policy.initial

    def observe(self, status: JobStatus, now: float) -> bool:
        """Record a status seen at `now`; True when it differs from the previous one."""
        changed = self.last is None or (self.last.status, self.last.info) != (
            status.status,
            status.info,
        )
        self.errors_in_a_row = 0
        self._track_progress(status, now)
        self.last = status
        return changed

    def observe_error(self, error: Exception) -> float:
        """Record a transient error; the delay before trying again, or re-raise when too many."""
        self.errors_in_a_row += 1
        if self.errors_in_a_row > self.policy.max_consecutive_errors:
            raise error
        if isinstance(error, RateLimitError) and error.retry_after is not None:
            return max(error.retry_after, self.policy.initial)
        return self._backoff()

    def next_delay(self, now: float) -> float:
        """Seconds until the next poll, after the observation just recorded."""
        delay = self._backoff()
        estimate = self._estimated_remaining(now)
        if estimate is not None:
            delay = min(delay, max(self.policy.initial, estimate))
        return delay

    def _backoff(self) -> float:
        delay = self.interval
        self.interval = min(self.interval * self.policy.multiplier, self.policy.max_interval)
        spread = delay * self.policy.jitter
        return max(0.0, delay + self._rng.uniform(-spread, spread))

    def _track_progress(self, status: JobStatus, now: float) -> None:
        progress = status.progress if status.status == "running" else None
        if progress is None:
            self._progress_seen = None
        elif self._progress_seen is None or progress < self._progress_seen[1]:
            self._progress_seen = (now, progress)
        self._rate = self._rate_from(progress, now)

    def _rate_from(self, progress: float | None, now: float) -> float | None:
        first = self._progress_seen
        if progress is None or first is None or now <= first[0] or progress <= first[1]:
            return None
        return (progress - first[1]) / (now - first[0])

    def _estimated_remaining(self, now: float) -> float | None:
        if not self.policy.use_progress or self._rate is None or self.last is None:
            return None
        progress = self.last.progress
        if progress is None:
            return None
        return (1.0 - progress) / self._rate


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
    `raise_on_failure`, `WaitTimeout` past the deadline, and re-raises errors
    that are not transient (or transient ones past the policy's patience).
    """

    label: str
    policy: PollPolicy
    deadline: float | None
    on_update: Callable[[JobStatus], object] | None = None
    raise_on_failure: bool = True
    final: JobStatus | None = None
    _state: PollState = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._state = PollState(self.policy)

    @property
    def last(self) -> JobStatus | None:
        """The last status observed, if any."""
        return self._state.last

    def feed(self, outcome: JobStatus | BaseException, now: float) -> float | None:
        """Take one poll's outcome observed at `now`; return seconds to the next poll or None."""
        if isinstance(outcome, BaseException):
            if not isinstance(outcome, TRANSIENT_ERRORS):
                raise outcome
            delay = self._state.observe_error(outcome)
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
                last = self._state.last
                seen = f"; last status {last.status!r}" if last else ""
                raise WaitTimeout(f"{self.label} did not finish in time{seen}", last_status=last)
            delay = min(delay, remaining)
        return delay

    def _finish(self, status: JobStatus) -> None:
        self.final = status
        if self.raise_on_failure and status.status == "canceled":
            raise JobCanceled(status)
        if self.raise_on_failure and status.status == "failed":
            raise JobFailed(status)
