"""Bulk engines: submit from any iterable and wait on many jobs, streaming, sync and async.

Memory is O(concurrency) beyond what the caller keeps: items are pulled from the
input only when a slot is free, and each `Outcome` is handed back as soon as it is
known (an iterator, not a callback: the caller's loop sets the pace, so a slow
consumer holds the producer back instead of piling up outcomes, Ctrl-C lands in the
caller's own code, and `for`/`async for` need no threads of the caller's).
`run_many`/`arun_many` return a list (O(items) anyway), so they take every outcome at
the end instead: their caller sleeps until then, not woken once per outcome.

The rules on an interrupt or an error (the caller's, the input iterator's, Ctrl-C):
no new request starts; `close()` waits for the requests in flight (a second Ctrl-C
abandons them at once) and hands back every outcome not yet yielded, so no stored
job is lost. Threads are daemons: an abandoned request never keeps the process alive.

Submitting runs `concurrency` workers (threads, or tasks) over one I/O-free
`SubmitPlan`: each takes an item, sends it and records its answer, so the two engines
follow the same rule. Waiting on many jobs runs from one loop over a schedule of due
polls (not a thread or task parked per job), pulling jobs from the input as they
finish. Both keep within an `AdaptiveLimit`, which 429s lower and pace.
"""

from __future__ import annotations

import collections
import concurrent.futures
import functools
import math
import queue
import sys
import threading
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar, Final, Generic, Literal, Self, TypeVar

import attrs

from together_queue import _lazy
from together_queue._durations import Durations
from together_queue._models import Failure, JobStatus, Outcome, Success
from together_queue._polling import PollPolicy, PollSchedule, Waiter
from together_queue.errors import RateLimitError

if TYPE_CHECKING:
    import asyncio

    from together_queue._retry import SendObserver

T = TypeVar("T")
H = TypeVar("H")
I = TypeVar("I")  # noqa: E741 - item type

#: How many times a submit refused with 429 (the service did not take it) is sent again.
RATE_LIMIT_ROUNDS: Final = 4
#: Jobs waited on at once per unit of concurrency (the rest are pulled as these finish).
WAIT_WINDOW_PER_SLOT: Final = 64
#: The slowest pace a rate limit can set, in requests per second.
MIN_RATE: Final = 0.5
#: How fast the pace grows back after a cut: the share of itself it gains each second.
PACE_GROWTH: Final = 0.05
#: How fast the pace grows past the rate the last cut measured (probing for more).
PACE_PROBE: Final = 0.002
#: The share of the starts a pause held back that may go at once when it ends (the bucket
#: refilled meanwhile); the rest is left to the bucket, a margin against the next 429.
CATCH_UP: Final = 0.8
#: How far a paced start may make up for lateness (seconds of the pace): a loop woken a
#: little late sends the requests it owes at once, so the pace holds on a busy machine.
PACE_CREDIT: Final = 0.1


# -- adaptive concurrency and pace ------------------------------------------------------


@attrs.define
class _Signal:
    """A 429 being judged: the load, or a refusal whatever the load."""

    at: float  # when it came
    retry_after: float  # the pause it asked for (0: none)
    successes: int  # successes in the window before it
    answers: int = 0  # answers since it (this one aside)
    refused: int = 1  # 429s among them, this one included


class AdaptiveLimit:
    """How many requests may be in flight, and how fast they may start: AIMD on 429.

    A `Retry-After` pauses new requests until it has passed, in both modes. A 429 that
    comes outside such a pause is a signal, judged once the requests in flight when it
    came have answered (a window of `limit` answers) or its pause is over, whichever is
    first. If half those answers or more were 429s too, the service refuses by load (an
    emptied token bucket refuses everything): the limit halves (multiplicative decrease,
    TCP's rule) and a pace is set. If most succeeded, the 429 was a refusal whatever the
    load (a service shedding a share of requests at random): slowing down would not
    avoid the next one, so nothing is cut and the pause alone paces. Every `limit`
    successes raise the limit by one. It starts at the ceiling, so a run that meets no
    429 behaves exactly like fixed concurrency.

    The pace (`rate`, requests per second) is the rate a token bucket would have let
    through: the successes since the previous cut over the time since then (at a cut the
    bucket was empty), never more than the pace in force; at the first cut, over that
    time plus the pause asked for (the bucket may have started full). Each success raises
    it by `PACE_GROWTH` (so it grows by that share of itself each second), and by
    `PACE_PROBE` once past the rate the last cut measured. When a pause ends, `CATCH_UP`
    of the starts the pace would have made during it may go at once (the bucket refilled
    meanwhile), so a pause costs little throughput. Unpaced (`rate` None) until a first
    cut. With `adaptive=False` the limit stays fixed and unpaced (the pause and the
    counting remain): the baseline the benchmark compares against.

    Called from worker threads (it is the `SendObserver` of every request), so locked.
    """

    def __init__(self, ceiling: int, *, adaptive: bool = True) -> None:
        self.ceiling = ceiling
        self.adaptive = adaptive
        self.limit = ceiling
        self.rate: float | None = None
        self.rate_limited = 0  # 429 answers seen
        self.cuts = 0  # signals judged to be the load
        self._lock = threading.Lock()
        self._successes = 0  # towards the next +1 of the limit
        self._pause_until = 0.0
        self._next_start = 0.0
        self._owed = 0.0  # seconds of the pace a pause held back, to make up when it ends
        self._window_start: float | None = None  # the first start, then the last cut
        self._window_successes = 0
        self._signal: _Signal | None = None
        self._measured = 0.0  # the rate the last cut measured

    def on_rate_limited(self, retry_after: float | None) -> None:
        """A 429: pause for `retry_after`; outside a pause, a signal to judge."""
        with self._lock:
            self.rate_limited += 1
            now = time.monotonic()
            judging = self._answer(now, refused=True)
            # Refused during a pause: sent before it began, so the signal already taken.
            echo = now < self._pause_until
            if retry_after is not None:
                self._pause_until = max(self._pause_until, now + retry_after)
            if echo or not self.adaptive or judging:
                return
            self._signal = _Signal(now, retry_after or 0.0, self._window_successes)
            if self.rate is not None and retry_after:
                self._owed = CATCH_UP * retry_after

    def on_success(self) -> None:
        """A 2xx: one step towards raising the limit by one, and the pace a little."""
        with self._lock:
            self._window_successes += 1
            self._answer(time.monotonic(), refused=False)
            if not self.adaptive:
                return
            if self.rate is not None:  # slower past the rate the last cut measured
                self.rate += PACE_GROWTH if self.rate < self._measured else PACE_PROBE
            if self.limit >= self.ceiling:
                return
            self._successes += 1
            if self._successes >= self.limit:
                self.limit += 1
                self._successes = 0

    def _answer(self, now: float, *, refused: bool) -> bool:
        """Count an answer towards the signal being judged (True: there was one)."""
        signal = self._judge(now)  # one whose pause is over is judged without this answer
        if signal is None:
            return False
        signal.answers += 1
        signal.refused += refused
        self._judge(now)  # this answer may complete its window
        return True

    def _judge(self, now: float) -> _Signal | None:
        """The signal still being judged, after judging it if its window or pause is over."""
        signal = self._signal
        if signal is None:
            return None
        in_pause = signal.retry_after == 0 or now < signal.at + signal.retry_after
        if signal.answers + 1 < self.limit and in_pause:
            return signal
        self._signal = None
        if signal.refused * 2 >= signal.answers + 1:  # half the answers or more were 429s
            self._cut(signal)
        return None

    def _cut(self, signal: _Signal) -> None:
        """Halve the limit and set the pace from the window the signal closes."""
        self.cuts += 1
        self.limit = max(1, self.limit // 2)
        self._successes = 0
        begun = self._window_start if self._window_start is not None else signal.at
        span = signal.at - begun
        if self.rate is None and span + signal.retry_after > 0:
            # The bucket may have started full: pace as if the pause were part of the
            # window, and grow quickly up to what the window alone would say.
            self.rate = max(MIN_RATE, signal.successes / (span + signal.retry_after))
            self._measured = signal.successes / span if span > 0 else self.rate
        elif self.rate is not None and span > 0:
            self._measured = max(MIN_RATE, signal.successes / span)
            self.rate = min(self.rate, self._measured)
        if self.rate is not None:
            # The refused requests are resent when the pause ends, outside the pace: they
            # take the first of the starts it owes.
            self._owed = max(0.0, CATCH_UP * signal.retry_after - signal.refused / self.rate)
        self._window_start = signal.at
        self._window_successes -= signal.successes  # those after the signal open the next

    def pause_left(self) -> float:
        """Seconds before new requests may start by the pause alone (0: now)."""
        return max(0.0, self._pause_until - time.monotonic())

    def start_delay(self, now: float) -> float:
        """Seconds from `now` (monotonic) before the next request may start: pause and pace."""
        return max(0.0, self._pause_until - now, self._next_start - now)

    def started(self, now: float) -> None:
        """A request starts at `now`: the next one waits for the pace."""
        with self._lock:
            if self._window_start is None:
                self._window_start = now
            if self.rate is None:
                return
            # A late start makes up a little of the pace; after a pause, what it held back.
            floor = now - PACE_CREDIT - self._owed
            self._next_start = max(self._next_start, floor) + 1.0 / self.rate
            if self._next_start >= now - PACE_CREDIT:
                self._owed = 0.0  # caught up


# -- submitting: the plan both engines follow ----------------------------------------------


class SubmitPlan(Generic[H, I]):
    """The I/O-free part of a bulk submit: which item starts next, and what each answer means.

    Both engines (threads and tasks) run `concurrency` workers that each loop: `take()`
    an item, send it, `finish()` it, so a freed slot goes to the next item at once.
    A worker waits while the limit, its pace or pause, or the outcomes not yet taken
    (`backlog` and one more, so memory stays O(concurrency) whatever the consumer does) say so.

    The threads take in three steps, `reserve()`, `pull()` without the crew's lock, then
    `pulled()`: an iterator that waits for its next item (a pipe, a queue) then holds up
    only the next start, not the answers of the submits in flight, nor `close()`. One
    worker pulls at a time (iterators are not thread-safe).
    """

    def __init__(self, items: Iterable[I], limit: AdaptiveLimit, backlog: int) -> None:
        self.limit = limit
        self.ready: collections.deque[Outcome[H, I]] = collections.deque()
        self.running = 0
        self.stopped = False
        #: An error of the items iterator, raised to the consumer by the engine.
        self.error: BaseException | None = None
        self._source = enumerate(items)
        self._backlog = backlog
        self._exhausted = False
        self._pulling = False  # a worker is pulling the next item
        #: Set by `close()` once no submit is in flight: an item pulled after it is not sent.
        self.closed = False

    @property
    def finished(self) -> bool:
        """True when no item is in flight and none will start."""
        return self.running == 0 and (self._exhausted or self.stopped)

    def take(self, now: float) -> tuple[int, I] | float | None:
        """The next (index, item) to send; else seconds to wait (inf: until woken); None: stop."""
        step = self.reserve(now)
        if step is not True:
            return step
        return self.pulled(self.pull(), now)

    def reserve(self, now: float) -> Literal[True] | float | None:
        """True: the caller is to `pull()` the next item; else as `take()`."""
        if self.stopped or self._exhausted:
            return None
        if self._pulling or self.running >= self.limit.limit or len(self.ready) > self._backlog:
            return math.inf
        delay = self.limit.start_delay(now)
        if delay > 0:
            return delay
        self._pulling = True
        return True

    def pull(self) -> tuple[int, I] | BaseException | None:
        """The next (index, item) of the iterator, its error, or None at its end (no state)."""
        try:
            return next(self._source, None)
        except BaseException as exc:  # handed to the consumer; the items sent are kept
            return exc

    def pulled(
        self, step: tuple[int, I] | BaseException | None, now: float
    ) -> tuple[int, I] | None:
        """Account for what `pull()` gave: the (index, item) to send, or None."""
        self._pulling = False
        if isinstance(step, BaseException):
            self.error = step
            self.stopped = True
            return None
        if step is None:
            self._exhausted = True
            return None
        if self.closed:
            return None  # the stream is gone: nobody would see the outcome
        self.running += 1
        self.limit.started(now)
        return step

    def finish(self, index: int, item: I, value: H | None, error: BaseException | None) -> int:
        """Record an item's answer; how many more workers could start now."""
        self.running -= 1
        if error is None:
            self.ready.append(Success(index, item, value))  # type: ignore[arg-type]
        else:
            self.ready.append(Failure(index, item, error))
        return self.room()

    def room(self) -> int:
        """How many more items the limit and the backlog let start (a pace or pause aside)."""
        if self.stopped or self._exhausted:
            return 0
        return max(0, min(self.limit.limit - self.running, self._backlog + 1 - len(self.ready)))

    def resend_delay(self, rounds: int) -> float | None:
        """After `rounds` resends of a submit refused with 429: seconds to wait, or None to give up.

        Refused with 429, the service did not take it, so sending it again is safe;
        not while stopping, and not beyond `RATE_LIMIT_ROUNDS`.
        """
        if self.stopped or rounds >= RATE_LIMIT_ROUNDS:
            return None
        return self.limit.pause_left()

    def stop(self) -> None:
        """Start no more items."""
        self.stopped = True

    def take_outcomes(self) -> list[Outcome[H, I]]:
        """Every outcome not yet taken."""
        rest = list(self.ready)
        self.ready.clear()
        return rest


def attach_outcomes(exc: BaseException, outcomes: list[Any]) -> None:
    """Hand `outcomes` back on `exc` (`exc.outcomes`), with a note saying so."""
    previous = getattr(exc, "outcomes", None)
    merged = [*(previous or []), *outcomes]
    merged.sort(key=lambda outcome: outcome.index)
    exc.outcomes = merged  # type: ignore[attr-defined]
    if previous is None:
        ok = sum(1 for outcome in merged if outcome.ok)
        exc.add_note(
            f"{ok} job(s) were submitted before this error stopped the bulk submit: "
            "exc.outcomes holds the outcome of every item sent"
        )


# -- submitting, sync: worker threads ------------------------------------------------------


class _ThreadCrew(Generic[H, I]):
    """The worker threads of one `SubmitStream`, and the lock and conditions they share.

    Holds no reference to the stream, so a stream dropped without `close()` is collected
    and its finalizer stops the crew. Threads are daemons: an abandoned request never
    keeps the process alive.
    """

    def __init__(
        self, plan: SubmitPlan[H, I], send: Callable[[I, SendObserver], H], *, each: bool
    ) -> None:
        self.plan = plan
        self.send = send
        #: Wake the consumer on every outcome (streaming), or only as workers end.
        self.each = each
        self.lock = threading.Lock()
        self.work = threading.Condition(self.lock)  # workers wait here
        self.answer = threading.Condition(self.lock)  # the consumer waits here
        self.stopping = threading.Event()  # cuts a resend's pause short
        self.threads: list[threading.Thread] = []

    def start(self, count: int) -> None:
        self.threads = [
            threading.Thread(target=self.run, name=f"together-queue-submit-{n}", daemon=True)
            for n in range(count)
        ]
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        with self.lock:
            self.plan.stop()
            self.stopping.set()
            self.work.notify_all()
            self.answer.notify_all()

    def run(self) -> None:
        plan = self.plan
        with self.lock:
            while (ready := plan.reserve(time.monotonic())) is not None:
                if isinstance(ready, float):
                    self.work.wait(None if ready == math.inf else ready)
                    continue
                self.lock.release()
                try:
                    pulled = plan.pull()  # may wait on the caller's iterator: not under the lock
                finally:
                    self.lock.acquire()
                step = plan.pulled(pulled, time.monotonic())
                self.work.notify()  # the next pull may start
                if step is None:
                    self.answer.notify()  # the end, or an error, for the consumer
                    continue
                index, item = step
                self.lock.release()
                try:
                    value, error = self.attempt(item)
                finally:
                    self.lock.acquire()
                more = plan.finish(index, item, value, error) - 1  # this thread takes one
                if more > 0:
                    self.work.notify(more)  # the limit grew
                if self.each:
                    self.answer.notify()
            self.answer.notify()  # the consumer may be waiting for the end, or an error

    def attempt(self, item: I) -> tuple[H | None, BaseException | None]:
        rounds = 0
        while True:
            try:
                return self.send(item, self.plan.limit), None
            except RateLimitError as exc:
                delay = self.plan.resend_delay(rounds)
                rounds += 1
                if delay is None or self.stopping.wait(delay):
                    return None, exc
            except BaseException as exc:  # every outcome is kept, the error included
                return None, exc


class SubmitStream(Generic[H, I]):
    """Each item's submit Outcome, in completion order, with bounded requests in flight.

    Iterate it; `close()` (or leaving a `with` block) stops starting new submits, waits
    for those in flight and returns their outcomes, which the loop did not yield (also
    kept in `leftover`, for a `with` block left by `break`). Leaving a `with` block on
    an exception attaches every outcome not yielded to it as `exc.outcomes`. `limit` is
    the adaptive concurrency (`limit.rate_limited` counts 429s).
    """

    # True for `run_many`'s stream (`_WholeStream`): the outcomes are taken all at once at
    # the end, so there is no backlog to bound, and no wake-up of the consumer per outcome.
    _WHOLE: ClassVar[bool] = False

    def __init__(
        self,
        items: Iterable[I],
        send: Callable[[I, SendObserver], H],
        *,
        concurrency: int,
        adaptive: bool = True,
    ) -> None:
        self.limit = AdaptiveLimit(concurrency, adaptive=adaptive)
        _whole = self._WHOLE
        backlog = sys.maxsize if _whole else concurrency
        self._plan: SubmitPlan[H, I] = SubmitPlan(items, self.limit, backlog=backlog)
        self._crew = _ThreadCrew(self._plan, send, each=not _whole)
        # A stream dropped without close() still lets its threads end.
        weakref.finalize(self, self._crew.stop)
        self.leftover: list[Outcome[H, I]] = []

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> Outcome[H, I]:
        crew, plan = self._crew, self._plan
        with crew.lock:
            self._start()
            while True:
                if plan.error is not None:
                    error, plan.error = plan.error, None
                    raise error
                if plan.ready:
                    crew.work.notify()  # room in the backlog
                    return plan.ready.popleft()
                if plan.finished:
                    raise StopIteration
                crew.answer.wait()

    def _start(self) -> None:
        """Start the workers, once (called with the lock held)."""
        if not self._crew.threads and not self._plan.stopped:
            self._crew.start(self.limit.ceiling)

    def _wait_all(self) -> list[Outcome[H, I]]:
        """Every outcome, once no item is left to send (`run_many`): one wake-up, not one each."""
        crew, plan = self._crew, self._plan
        with crew.lock:
            self._start()
            while plan.error is None and not plan.finished:
                crew.answer.wait()
            if plan.error is not None:
                error, plan.error = plan.error, None
                raise error
            return plan.take_outcomes()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        rest = self.close()
        if exc is not None:
            attach_outcomes(exc, rest)

    def close(self) -> list[Outcome[H, I]]:
        """Start no more submits; wait for those in flight; their outcomes, not yet yielded.

        A Ctrl-C while waiting abandons the rest at once (their threads are daemons). An
        iterator still waiting for its next item does not hold this up; an item it yields
        after this returned is not sent.
        """
        crew = self._crew
        crew.stop()
        try:
            with crew.lock:
                while self._plan.running:
                    crew.answer.wait()
                # Under the lock the wait ended with: a pull that ends after this is not
                # sent; one that ended before it started a submit, which the wait awaited.
                self._plan.closed = True
        except KeyboardInterrupt:
            pass  # a second Ctrl-C: those still in flight are abandoned
        with crew.lock:
            self._plan.closed = True
            rest = self._plan.take_outcomes()
        self.leftover.extend(rest)
        return rest


class _WholeStream(SubmitStream[H, I]):
    """`run_many`'s stream: every outcome taken at the end."""

    _WHOLE = True


def run_many(
    items: Iterable[I],
    send: Callable[[I, SendObserver], H],
    concurrency: int,
    *,
    adaptive: bool = True,
) -> list[Outcome[H, I]]:
    """Every item's Outcome, in input order; on an error, the outcomes go on the error.

    The outcomes are handed over at the end, not streamed: the calling thread sleeps until
    then (a Ctrl-C still lands in it), instead of waking for every outcome.
    """
    stream = _WholeStream(items, send, concurrency=concurrency, adaptive=adaptive)
    try:
        results = stream._wait_all()
    except BaseException as exc:
        attach_outcomes(exc, stream.close())
        raise
    stream.close()
    results.sort(key=lambda outcome: outcome.index)
    return results


# -- submitting, async: worker tasks -------------------------------------------------------


class _Parking:
    """Tasks parked until woken (`wake`) or a timeout: the async twin of a Condition's wait."""

    def __init__(self) -> None:
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()

    async def wait(self, timeout: float) -> None:
        loop = _lazy.asyncio.get_running_loop()
        parked: asyncio.Future[None] = loop.create_future()
        self._waiting.append(parked)
        timer = None if timeout == math.inf else loop.call_later(timeout, _release, parked)
        try:
            await parked
        finally:
            if timer is not None:
                timer.cancel()
            if not parked.done():
                parked.cancel()

    def wake(self, count: int = 1) -> None:
        while count > 0 and self._waiting:
            parked = self._waiting.popleft()
            if not parked.done():
                parked.set_result(None)
                count -= 1

    def wake_all(self) -> None:
        self.wake(len(self._waiting))


def _release(parked: asyncio.Future[None]) -> None:
    if not parked.done():
        parked.set_result(None)


class AsyncSubmitStream(Generic[H, I]):
    """The async twin of `SubmitStream`: `async for`, `aclose()`, `async with`.

    No task outlives it: on an error or a cancellation, the submits in flight are
    awaited (or cancelled if the wait itself is cancelled) before it returns.
    """

    _WHOLE: ClassVar[bool] = False  # as `SubmitStream._WHOLE`, for `arun_many`

    def __init__(
        self,
        items: Iterable[I],
        send: Callable[[I, SendObserver], Awaitable[H]],
        *,
        concurrency: int,
        adaptive: bool = True,
    ) -> None:
        self.limit = AdaptiveLimit(concurrency, adaptive=adaptive)
        _whole = self._WHOLE
        backlog = sys.maxsize if _whole else concurrency
        self._plan: SubmitPlan[H, I] = SubmitPlan(items, self.limit, backlog=backlog)
        self._each = not _whole
        self._send = send
        self._work = _Parking()  # workers wait here
        self._answer = _Parking()  # the consumer waits here
        self._workers: list[asyncio.Task[None]] = []
        self.leftover: list[Outcome[H, I]] = []

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Outcome[H, I]:
        plan = self._plan
        self._start()
        while True:
            if plan.error is not None:
                error, plan.error = plan.error, None
                raise error
            if plan.ready:
                self._work.wake()  # room in the backlog
                return plan.ready.popleft()
            if plan.finished:
                raise StopAsyncIteration
            await self._answer.wait(math.inf)

    def _start(self) -> None:
        """Start the worker tasks, once."""
        if not self._workers and not self._plan.stopped:
            start = _lazy.asyncio.ensure_future
            self._workers = [start(self._run()) for _ in range(self.limit.ceiling)]

    async def _wait_all(self) -> list[Outcome[H, I]]:
        """Every outcome, once no item is left to send (`arun_many`): one wake-up, not one each."""
        plan = self._plan
        self._start()
        while plan.error is None and not plan.finished:
            await self._answer.wait(math.inf)
        if plan.error is not None:
            error, plan.error = plan.error, None
            raise error
        return plan.take_outcomes()

    async def _run(self) -> None:
        plan = self._plan
        while (step := plan.take(time.monotonic())) is not None:
            if isinstance(step, float):
                await self._work.wait(step)
                continue
            index, item = step
            value, error = await self._attempt(item)
            more = plan.finish(index, item, value, error) - 1  # this task takes one
            if more > 0:
                self._work.wake(more)  # the limit grew
            if self._each:
                self._answer.wake()
        self._answer.wake()  # the consumer may be waiting for the end, or an error

    async def _attempt(self, item: I) -> tuple[H | None, BaseException | None]:
        rounds = 0
        while True:
            try:
                return await self._send(item, self.limit), None
            except RateLimitError as exc:
                delay = self._plan.resend_delay(rounds)
                rounds += 1
                if delay is None:
                    return None, exc
                await _lazy.asyncio.sleep(delay)
            except _lazy.asyncio.CancelledError as exc:
                return None, exc  # the stream is being torn down: recorded, then it ends
            except Exception as exc:  # every outcome is kept, the error included
                return None, exc

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        rest = await self.aclose()
        if exc is not None:
            attach_outcomes(exc, rest)

    async def aclose(self) -> list[Outcome[H, I]]:
        """Start no more submits; await those in flight; their outcomes, not yet yielded."""
        self._plan.stop()
        self._work.wake_all()
        workers, self._workers = self._workers, []
        try:
            if workers:
                await _lazy.asyncio.wait(workers)
        finally:
            for worker in workers:
                worker.cancel()  # only still running if our own wait was cancelled
            if workers:
                # Reap them: no task is left pending, whatever happened above.
                await _lazy.asyncio.gather(*workers, return_exceptions=True)
        rest = self._plan.take_outcomes()
        self.leftover.extend(rest)
        return rest


class _AsyncWholeStream(AsyncSubmitStream[H, I]):
    """`arun_many`'s stream: every outcome taken at the end."""

    _WHOLE = True


async def arun_many(
    items: Iterable[I],
    send: Callable[[I, SendObserver], Awaitable[H]],
    concurrency: int,
    *,
    adaptive: bool = True,
) -> list[Outcome[H, I]]:
    """Every item's Outcome, in input order; on an error, the outcomes go on the error.

    As `run_many`, the outcomes are handed over at the end, not streamed.
    """
    stream = _AsyncWholeStream(items, send, concurrency=concurrency, adaptive=adaptive)
    try:
        results = await stream._wait_all()
    except BaseException as exc:
        attach_outcomes(exc, await stream.aclose())
        raise
    await stream.aclose()
    results.sort(key=lambda outcome: outcome.index)
    return results


# -- waiting: a pool of daemon threads ------------------------------------------------------------


class DaemonPool:
    """`concurrency` daemon threads running submitted calls into Futures.

    Not `ThreadPoolExecutor`: its threads are joined at interpreter exit, so one
    request hung in flight would keep a Ctrl-C'd process alive until it ended.
    """

    def __init__(self, size: int, name: str) -> None:
        self._tasks: queue.SimpleQueue[
            tuple[concurrent.futures.Future[Any], Callable[[], Any]] | None
        ] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._run, name=f"{name}-{n}", daemon=True) for n in range(size)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[[], T]) -> concurrent.futures.Future[T]:
        """Run `fn()` on a pool thread; its result (or exception) in the returned Future."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._tasks.put((future, fn))
        return future

    def shutdown(self) -> None:
        """Let the threads end once idle; never waits (a running call is left to finish)."""
        for _ in self._threads:
            self._tasks.put(None)

    def _run(self) -> None:
        while (task := self._tasks.get()) is not None:
            future, fn = task
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed to the waiting side, never lost
                future.set_exception(exc)


def _model_of(job: object) -> str | None:
    """The model a job handle names (None for anything else), known before it is polled."""
    model = getattr(job, "model", None)
    return model if isinstance(model, str) else None


@attrs.define
class _Active(Generic[H]):
    job: H
    waiter: Waiter


@attrs.define
class _WaitPlan(Generic[H]):
    """The I/O-free part of waiting on many jobs: who is due, and what each outcome means.

    Jobs are pulled from `jobs` only while fewer than `window` are being waited on,
    so memory follows the window, not the number of jobs. Polls keep within `limit`,
    the same `AdaptiveLimit` a bulk submit uses (it observes every poll's answer): 429s
    lower it and set a pace, a `Retry-After` pauses every poll, not only the refused one.
    Every job's waiter shares `durations`, the run times learned from the jobs seen so far.
    """

    jobs: Iterator[H]
    policy: PollPolicy
    timeout: float | None
    limit: AdaptiveLimit
    on_update: Callable[[H, JobStatus], object] | None
    window: int
    deadline: float | None = None
    schedule: PollSchedule[int] = attrs.field(factory=PollSchedule)
    active: dict[int, _Active[H]] = attrs.field(factory=dict)
    # What the finished jobs of this wait teach about the run times of the others
    durations: Durations = attrs.field(factory=Durations)
    pulled: int = 0
    exhausted: bool = False

    def __attrs_post_init__(self) -> None:
        if self.timeout is not None:
            self.deadline = time.monotonic() + self.timeout

    @property
    def pending(self) -> bool:
        """True while a job is left to poll or to pull."""
        return bool(self.active) or not self.exhausted

    def _refill(self) -> None:
        now = time.monotonic()
        while not self.exhausted and len(self.active) < self.window:
            job = next(self.jobs, None)
            if job is None:
                self.exhausted = True
                return
            index = self.pulled
            self.pulled += 1
            self.active[index] = _Active(
                job,
                Waiter(
                    label=repr(job),
                    policy=self.policy,
                    deadline=self.deadline,
                    on_update=self._callback(job),
                    raise_on_failure=False,
                    durations=self.durations,
                    model=_model_of(job),
                ),
            )
            self.schedule.add(index, now)

    def _callback(self, job: H) -> Callable[[JobStatus], object] | None:
        if self.on_update is None:
            return None
        on_update = self.on_update
        return lambda status: on_update(job, status)

    def due(self, in_flight: int) -> list[tuple[int, H]]:
        """Jobs to poll now, within the limit's concurrency, pace and pause."""
        self._refill()
        now = time.monotonic()
        room = self.limit.limit - in_flight
        polls: list[tuple[int, H]] = []
        while room > 0 and self.limit.start_delay(now) == 0:
            indices = self.schedule.pop_due(now, 1)
            if not indices:
                break
            later = self.active[indices[0]].waiter.replan(now)
            if later is not None:  # planned anew with what was learned since: no poll yet
                self.schedule.add(indices[0], now + later)
                continue
            self.limit.started(now)
            polls.append((indices[0], self.active[indices[0]].job))
            room -= 1
        return polls

    def wait_timeout(self, in_flight: int) -> float | None:
        """How long the loop may block: until the next poll may go, or an answer comes."""
        if in_flight >= self.limit.limit:
            return None  # every slot is busy: only an answer can change anything
        nxt = self.schedule.next_due()
        if nxt is None:
            return None
        now = time.monotonic()
        return max(0.0, nxt - now, self.limit.start_delay(now))

    def settle(self, index: int, result: JobStatus | BaseException) -> Outcome[JobStatus, H] | None:
        """Apply a poll's result; the job's final Outcome, or None when it is rescheduled."""
        entry = self.active[index]
        try:
            delay = entry.waiter.feed(result, time.monotonic())
        except Exception as exc:
            del self.active[index]
            return Failure(index, entry.job, exc)
        if delay is None:
            del self.active[index]
            assert entry.waiter.final is not None
            return Success(index, entry.job, entry.waiter.final)
        self.schedule.add(index, time.monotonic() + delay)
        return None


Fetch = Callable[[H, float | None, "SendObserver"], JobStatus]
AsyncFetch = Callable[[H, float | None, "SendObserver"], Awaitable[JobStatus]]


def _poll_outcome(
    fetch: Fetch[H], job: H, deadline: float | None, observer: SendObserver
) -> JobStatus | BaseException:
    try:
        return fetch(job, deadline, observer)
    except Exception as exc:  # settled by the plan: transient ones are retried
        return exc


def iter_completed(
    jobs: Iterable[H],
    fetch: Fetch[H],
    *,
    policy: PollPolicy,
    timeout: float | None,
    concurrency: int,
    on_update: Callable[[H, JobStatus], object] | None,
) -> Iterator[Outcome[JobStatus, H]]:
    """Yield each job's final Outcome as it completes, polling on daemon threads.

    `fetch(job, deadline, observer)` polls one job within the deadline of the whole
    wait, telling `observer` what each answer said about load.
    """
    plan = _WaitPlan(
        iter(jobs),
        policy,
        timeout,
        AdaptiveLimit(concurrency),
        on_update,
        concurrency * WAIT_WINDOW_PER_SLOT,
    )
    pool = DaemonPool(concurrency, "together-queue-wait")
    in_flight: dict[concurrent.futures.Future[JobStatus | BaseException], int] = {}
    try:
        while plan.pending or in_flight:
            for index, job in plan.due(len(in_flight)):
                poll = pool.submit(
                    functools.partial(_poll_outcome, fetch, job, plan.deadline, plan.limit)
                )
                in_flight[poll] = index
            wait = plan.wait_timeout(len(in_flight))
            if not in_flight:
                if wait is None:
                    continue  # nothing scheduled yet: the next `due` pulls more jobs
                time.sleep(wait)
                continue
            done, _ = concurrent.futures.wait(
                in_flight, timeout=wait, return_when=concurrent.futures.FIRST_COMPLETED
            )
            for future in done:
                outcome = plan.settle(in_flight.pop(future), future.result())
                if outcome is not None:
                    yield outcome
    finally:
        # Polls are safe to abandon, and daemon threads never hold the process open.
        for future in in_flight:
            future.cancel()
        pool.shutdown()


async def aiter_completed(
    jobs: Iterable[H],
    fetch: AsyncFetch[H],
    *,
    policy: PollPolicy,
    timeout: float | None,
    concurrency: int,
    on_update: Callable[[H, JobStatus], object] | None,
) -> AsyncIterator[Outcome[JobStatus, H]]:
    """Yield each job's final Outcome as it completes, polling with tasks (see `iter_completed`)."""
    plan = _WaitPlan(
        iter(jobs),
        policy,
        timeout,
        AdaptiveLimit(concurrency),
        on_update,
        concurrency * WAIT_WINDOW_PER_SLOT,
    )
    in_flight: dict[asyncio.Task[JobStatus | BaseException], int] = {}

    async def poll(job: H) -> JobStatus | BaseException:
        try:
            return await fetch(job, plan.deadline, plan.limit)
        except Exception as exc:  # settled by the plan: transient ones are retried
            return exc

    try:
        while plan.pending or in_flight:
            for index, job in plan.due(len(in_flight)):
                in_flight[_lazy.asyncio.ensure_future(poll(job))] = index
            wait = plan.wait_timeout(len(in_flight))
            if not in_flight:
                if wait is not None:
                    await _lazy.asyncio.sleep(wait)
                continue
            done, _ = await _lazy.asyncio.wait(
                in_flight, timeout=wait, return_when=_lazy.asyncio.FIRST_COMPLETED
            )
            for task in done:
                outcome = plan.settle(in_flight.pop(task), task.result())
                if outcome is not None:
                    yield outcome
    finally:
        for task in in_flight:
            task.cancel()
        if in_flight:
            await _lazy.asyncio.gather(*in_flight, return_exceptions=True)
