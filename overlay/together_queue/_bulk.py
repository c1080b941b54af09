"""Bulk engines: submit from any iterable and wait on many jobs, streaming, sync and async.

Memory is O(concurrency) beyond what the caller keeps: items are pulled from the
input only when a slot is free, and each `Outcome` is handed back as soon as it is
known (an iterator, not a callback: the caller's loop sets the pace, so a slow
consumer holds the producer back instead of piling up outcomes, Ctrl-C lands in the
caller's own code, and `for`/`async for` need no threads of the caller's).

The rules on an interrupt or an error (the caller's, the input iterator's, Ctrl-C):
no new request starts; `close()` waits for the requests in flight (a second Ctrl-C
abandons them at once) and hands back every outcome not yet yielded, so no stored
job is lost. Threads are daemons: an abandoned request never keeps the process alive.

Waiting on many jobs runs from one loop over a schedule of due polls (not a thread
or task parked per job), pulling jobs from the input as they finish.
"""

from __future__ import annotations

import collections
import concurrent.futures
import functools
import queue
import threading
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Final, Generic, Self, TypeVar

import attrs

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


def outcome_of(index: int, item: I, fn: Callable[[I], T]) -> Outcome[T, I]:
    """Run `fn(item)`; its value or its error as an Outcome."""
    try:
        return Success(index, item, fn(item))
    except Exception as exc:  # every outcome is kept, the error included
        return Failure(index, item, exc)


# -- adaptive concurrency ------------------------------------------------------------


class AdaptiveLimit:
    """How many requests may be in flight: AIMD on 429, within the user's `ceiling`.

    Additive increase, multiplicative decrease (TCP's rule): a 429 halves the limit, at
    most once per window of answers (a burst of 429s from one window is one signal, not
    sixteen); every `limit` successes raise it by one. It starts at the ceiling, so a
    run that meets no 429 behaves exactly like fixed concurrency. A `Retry-After` pauses
    new requests until it has passed. With `adaptive=False` the limit stays fixed (the
    pause and the counting remain): the baseline the benchmark compares against.

    Called from worker threads (it is the `SendObserver` of every submit), so locked.
    """

    def __init__(self, ceiling: int, *, adaptive: bool = True) -> None:
        self.ceiling = ceiling
        self.adaptive = adaptive
        self.limit = ceiling
        self.rate_limited = 0  # 429 answers seen
        self._lock = threading.Lock()
        self._answers_since_cut: int | None = None  # None: no cut yet
        self._successes = 0
        self._pause_until = 0.0

    def on_rate_limited(self, retry_after: float | None) -> None:
        """A 429: halve the limit (once per window) and pause until `retry_after` passes."""
        with self._lock:
            self.rate_limited += 1
            if retry_after is not None:
                self._pause_until = max(self._pause_until, time.monotonic() + retry_after)
            if not self.adaptive:
                return
            window = self._answers_since_cut
            if window is None or window >= self.limit:
                self.limit = max(1, self.limit // 2)
                self._answers_since_cut = 0
                self._successes = 0
            else:
                self._answers_since_cut = window + 1

    def on_success(self) -> None:
        """A 2xx: one step towards raising the limit by one."""
        with self._lock:
            if self._answers_since_cut is not None:
                self._answers_since_cut += 1
            if not self.adaptive or self.limit >= self.ceiling:
                return
            self._successes += 1
            if self._successes >= self.limit:
                self.limit += 1
                self._successes = 0

    def pause_left(self) -> float:
        """Seconds before new requests may start (0: now)."""
        return max(0.0, self._pause_until - time.monotonic())


def _with_rate_limit_rounds(
    send: Callable[[I, SendObserver], T], limit: AdaptiveLimit, stopped: threading.Event
) -> Callable[[I], T]:
    """`send` that sends again, after the pause, a submit the service refused with 429."""

    def attempt(item: I) -> T:
        for _ in range(RATE_LIMIT_ROUNDS):
            try:
                return send(item, limit)
            except RateLimitError:
                # The service said it did not take it: safe to resend, unless we are stopping.
                if stopped.wait(limit.pause_left()):
                    raise
        return send(item, limit)

    return attempt


# -- a pool of daemon threads ------------------------------------------------------------


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


# -- submitting, sync ----------------------------------------------------------------------


class SubmitStream(Generic[H, I]):
    """Each item's submit Outcome, in completion order, with bounded requests in flight.

    Iterate it; `close()` (or leaving a `with` block) stops starting new submits, waits
    for those in flight and returns their outcomes, which the loop did not yield (also
    kept in `leftover`, for a `with` block left by `break`). Leaving a `with` block on
    an exception attaches every outcome not yielded to it as `exc.outcomes`. `limit` is
    the adaptive concurrency (`limit.rate_limited` counts 429s).
    """

    def __init__(
        self,
        items: Iterable[I],
        send: Callable[[I, SendObserver], H],
        *,
        concurrency: int,
        adaptive: bool = True,
    ) -> None:
        self.limit = AdaptiveLimit(concurrency, adaptive=adaptive)
        self._source = enumerate(items)
        self._stopped = threading.Event()
        self._attempt = _with_rate_limit_rounds(send, self.limit, self._stopped)
        self._pool: DaemonPool | None = None
        self._in_flight: dict[concurrent.futures.Future[H], tuple[int, I]] = {}
        # Each future puts itself here when done: waiting for the next answer is O(1),
        # where concurrent.futures.wait() would hook into every future in flight, every time.
        self._finished: queue.SimpleQueue[concurrent.futures.Future[H]] = queue.SimpleQueue()
        self._ready: collections.deque[Outcome[H, I]] = collections.deque()
        self._exhausted = False
        self.leftover: list[Outcome[H, I]] = []

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> Outcome[H, I]:
        while not self._ready:
            self._start_more()
            if not self._in_flight:
                if self._exhausted or self._stopped.is_set():
                    if self._pool is not None:
                        self._pool.shutdown()  # done: let the threads end now
                        self._pool = None
                    raise StopIteration
                time.sleep(self.limit.pause_left())  # nothing in flight: only the pause holds
                continue
            self._collect(self._wait_timeout())
        return self._ready.popleft()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        rest = self.close()
        if exc is not None:
            attach_outcomes(exc, rest)

    def close(self) -> list[Outcome[H, I]]:
        """Start no more submits; wait for those in flight; their outcomes, not yet yielded.

        A Ctrl-C while waiting abandons the rest at once (their threads are daemons).
        """
        self._stopped.set()
        try:
            if self._in_flight:
                concurrent.futures.wait(self._in_flight)
                # From the futures themselves: a future's done callback (the queue) may
                # run just after wait() has already returned.
                self._record(list(self._in_flight))
        except KeyboardInterrupt:
            pass  # a second Ctrl-C: those still in flight are abandoned
        finally:
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None
        rest = list(self._ready)
        self._ready.clear()
        self.leftover.extend(rest)
        return rest

    def _start_more(self) -> None:
        while (
            not self._exhausted
            and not self._stopped.is_set()
            and len(self._in_flight) < self.limit.limit
            and self.limit.pause_left() == 0
        ):
            nxt = next(self._source, None)  # an error here propagates: see `close()`
            if nxt is None:
                self._exhausted = True
                return
            if self._pool is None:
                self._pool = DaemonPool(self.limit.ceiling, "together-queue-submit")
                # A stream dropped without close() still lets its idle threads end.
                weakref.finalize(self, self._pool.shutdown)
            future = self._pool.submit(functools.partial(self._attempt, nxt[1]))
            self._in_flight[future] = nxt
            future.add_done_callback(self._finished.put)

    def _wait_timeout(self) -> float | None:
        # Slots free but paused: wake when the pause ends. Otherwise only an answer can
        # change anything: block (no timeout, so no spinning).
        free = len(self._in_flight) < self.limit.limit and not self._exhausted
        pause = self.limit.pause_left()
        return pause if free and pause > 0 else None

    def _collect(self, timeout: float | None) -> None:
        """Move every finished submit to `_ready`, first waiting up to `timeout` for one."""
        try:
            done = [self._finished.get(timeout=timeout)]
        except queue.Empty:
            return
        while True:
            try:
                done.append(self._finished.get_nowait())
            except queue.Empty:
                break
        self._record(done)

    def _record(self, done: Iterable[concurrent.futures.Future[H]]) -> None:
        for future in done:
            entry = self._in_flight.pop(future, None)
            if entry is None:
                continue  # recorded already (close() takes them from the futures)
            index, item = entry
            error = future.exception()
            if error is None:
                self._ready.append(Success(index, item, future.result()))
            else:
                self._ready.append(Failure(index, item, error))


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


def run_many(
    items: Iterable[I],
    send: Callable[[I, SendObserver], H],
    concurrency: int,
    *,
    adaptive: bool = True,
) -> list[Outcome[H, I]]:
    """Every item's Outcome, in input order; on an error, the outcomes go on the error."""
    results: list[Outcome[H, I]] = []
    stream = SubmitStream(items, send, concurrency=concurrency, adaptive=adaptive)
    try:
        results.extend(stream)
    except BaseException as exc:
        attach_outcomes(exc, [*results, *stream.close()])
        raise
    stream.close()
    results.sort(key=lambda outcome: outcome.index)
    return results


# -- submitting, async -------------------------------------------------------------------------


class AsyncSubmitStream(Generic[H, I]):
    """The async twin of `SubmitStream`: `async for`, `aclose()`, `async with`.

    No task outlives it: on an error or a cancellation, the submits in flight are
    awaited (or cancelled if the wait itself is cancelled) before it returns.
    """

    def __init__(
        self,
        items: Iterable[I],
        send: Callable[[I, SendObserver], Awaitable[H]],
        *,
        concurrency: int,
        adaptive: bool = True,
    ) -> None:
        self.limit = AdaptiveLimit(concurrency, adaptive=adaptive)
        self._source = enumerate(items)
        self._send = send
        self._stopped = False
        self._in_flight: dict[asyncio.Task[H], tuple[int, I]] = {}
        # Each task records its own outcome when done (see _on_done), so waiting for the
        # next answer is O(1): asyncio.wait() would hook into every task in flight.
        self._wakeup: asyncio.Future[None] | None = None
        # An error of the items iterator met while refilling from a done callback: raised
        # by the next __anext__ (a callback has nobody to raise it to).
        self._source_error: BaseException | None = None
        self._ready: collections.deque[Outcome[H, I]] = collections.deque()
        self._exhausted = False
        self.leftover: list[Outcome[H, I]] = []

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Outcome[H, I]:
        import asyncio  # here, not at the top: sync users should not pay for loading it

        while not self._ready:
            if self._source_error is not None:
                error, self._source_error = self._source_error, None
                raise error
            self._start_more()
            if self._ready:
                break
            if not self._in_flight:
                if self._exhausted or self._stopped:
                    raise StopAsyncIteration
                await asyncio.sleep(self.limit.pause_left())
                continue
            free = len(self._in_flight) < self.limit.limit and not self._exhausted
            pause = self.limit.pause_left()
            self._wakeup = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait((self._wakeup,), timeout=pause if free and pause > 0 else None)
            finally:
                self._wakeup = None
        return self._ready.popleft()

    def _on_done(self, task: asyncio.Task[H]) -> None:
        self._collect((task,))
        # Hand the freed slot to the next item now, as a semaphore would: waiting for the
        # consumer to wake up first kept the connection pool churning (bench: half the
        # throughput). Bounded: only while the outcomes not yet taken stay within one
        # round of the limit, so memory stays O(concurrency) whatever the consumer does.
        if self._source_error is None and len(self._ready) <= self.limit.ceiling:
            try:
                self._start_more()
            except BaseException as exc:  # the items iterator failed: see __anext__
                self._source_error = exc
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        rest = await self.aclose()
        if exc is not None:
            attach_outcomes(exc, rest)

    async def aclose(self) -> list[Outcome[H, I]]:
        """Start no more submits; await those in flight; their outcomes, not yet yielded."""
        import asyncio

        self._stopped = True
        tasks = list(self._in_flight)
        try:
            if tasks:
                await asyncio.wait(tasks)
        finally:
            for task in tasks:
                task.cancel()  # only still running if our own wait was cancelled
            if tasks:
                # Reap them: no task is left pending, whatever happened above.
                await asyncio.gather(*tasks, return_exceptions=True)
            self._collect([task for task in tasks if task.done()])
        rest = list(self._ready)
        self._ready.clear()
        self.leftover.extend(rest)
        return rest

    def _start_more(self) -> None:
        import asyncio

        while (
            not self._exhausted
            and not self._stopped
            and len(self._in_flight) < self.limit.limit
            and self.limit.pause_left() == 0
        ):
            nxt = next(self._source, None)
            if nxt is None:
                self._exhausted = True
                return
            task = asyncio.ensure_future(self._attempt(nxt[1]))
            self._in_flight[task] = nxt
            task.add_done_callback(self._on_done)

    async def _attempt(self, item: I) -> H:
        import asyncio

        for _ in range(RATE_LIMIT_ROUNDS):
            try:
                return await self._send(item, self.limit)
            except RateLimitError:
                if self._stopped:
                    raise
                await asyncio.sleep(self.limit.pause_left())  # then safe to resend: see sync
        return await self._send(item, self.limit)

    def _collect(self, done: Iterable[asyncio.Task[H]]) -> None:
        for task in done:
            entry = self._in_flight.pop(task, None)
            if entry is None:
                continue  # collected already (aclose() takes them all at once)
            index, item = entry
            if task.cancelled():
                import asyncio

                self._ready.append(Failure(index, item, asyncio.CancelledError()))
                continue
            error = task.exception()
            if error is None:
                self._ready.append(Success(index, item, task.result()))
            else:
                self._ready.append(Failure(index, item, error))


async def arun_many(
    items: Iterable[I],
    send: Callable[[I, SendObserver], Awaitable[H]],
    concurrency: int,
    *,
    adaptive: bool = True,
) -> list[Outcome[H, I]]:
    """Every item's Outcome, in input order; on an error, the outcomes go on the error."""
    results: list[Outcome[H, I]] = []
    stream = AsyncSubmitStream(items, send, concurrency=concurrency, adaptive=adaptive)
    try:
        async for outcome in stream:
            results.append(outcome)
    except BaseException as exc:
        attach_outcomes(exc, [*results, *(await stream.aclose())])
        raise
    await stream.aclose()
    results.sort(key=lambda outcome: outcome.index)
    return results


# -- waiting -----------------------------------------------------------------------


@attrs.define
class _Active(Generic[H]):
    job: H
    waiter: Waiter


@attrs.define
class _WaitPlan(Generic[H]):
    """The I/O-free part of waiting on many jobs: who is due, and what each outcome means.

    Jobs are pulled from `jobs` only while fewer than `window` are being waited on,
    so memory follows the window, not the number of jobs.
    """

    jobs: Iterator[H]
    policy: PollPolicy
    timeout: float | None
    concurrency: int
    on_update: Callable[[H, JobStatus], object] | None
    window: int
    deadline: float | None = None
    schedule: PollSchedule[int] = attrs.field(factory=PollSchedule)
    active: dict[int, _Active[H]] = attrs.field(factory=dict)
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
                ),
            )
            self.schedule.add(index, now)

    def _callback(self, job: H) -> Callable[[JobStatus], object] | None:
        if self.on_update is None:
            return None
        on_update = self.on_update
        return lambda status: on_update(job, status)

    def due(self, in_flight: int) -> list[tuple[int, H]]:
        """Jobs to poll now, keeping at most `concurrency` polls in flight."""
        self._refill()
        indices = self.schedule.pop_due(time.monotonic(), self.concurrency - in_flight)
        return [(index, self.active[index].job) for index in indices]

    def wait_timeout(self, in_flight: int) -> float | None:
        """How long the loop may block: until the next poll is due, or an answer comes."""
        if in_flight >= self.concurrency:
            return None  # every slot is busy: only an answer can change anything
        nxt = self.schedule.next_due()
        return None if nxt is None else max(0.0, nxt - time.monotonic())

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


def _poll_outcome(
    fetch: Callable[[H, float | None], JobStatus], job: H, deadline: float | None
) -> JobStatus | BaseException:
    try:
        return fetch(job, deadline)
    except Exception as exc:  # settled by the plan: transient ones are retried
        return exc


def iter_completed(
    jobs: Iterable[H],
    fetch: Callable[[H, float | None], JobStatus],
    *,
    policy: PollPolicy,
    timeout: float | None,
    concurrency: int,
    on_update: Callable[[H, JobStatus], object] | None,
) -> Iterator[Outcome[JobStatus, H]]:
    """Yield each job's final Outcome as it completes, polling on daemon threads.

    `fetch(job, deadline)` polls one job within the deadline of the whole wait.
    """
    plan = _WaitPlan(
        iter(jobs), policy, timeout, concurrency, on_update, concurrency * WAIT_WINDOW_PER_SLOT
    )
    pool = DaemonPool(concurrency, "together-queue-wait")
    in_flight: dict[concurrent.futures.Future[JobStatus | BaseException], int] = {}
    try:
        while plan.pending or in_flight:
            for index, job in plan.due(len(in_flight)):
                poll = pool.submit(functools.partial(_poll_outcome, fetch, job, plan.deadline))
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
    fetch: Callable[[H, float | None], Awaitable[JobStatus]],
    *,
    policy: PollPolicy,
    timeout: float | None,
    concurrency: int,
    on_update: Callable[[H, JobStatus], object] | None,
) -> AsyncIterator[Outcome[JobStatus, H]]:
    """Yield each job's final Outcome as it completes, polling with tasks."""
    import asyncio

    plan = _WaitPlan(
        iter(jobs), policy, timeout, concurrency, on_update, concurrency * WAIT_WINDOW_PER_SLOT
    )
    in_flight: dict[asyncio.Task[JobStatus | BaseException], int] = {}

    async def poll(job: H) -> JobStatus | BaseException:
        try:
            return await fetch(job, plan.deadline)
        except Exception as exc:  # settled by the plan: transient ones are retried
            return exc

    try:
        while plan.pending or in_flight:
            for index, job in plan.due(len(in_flight)):
                in_flight[asyncio.ensure_future(poll(job))] = index
            wait = plan.wait_timeout(len(in_flight))
            if not in_flight:
                if wait is not None:
                    await asyncio.sleep(wait)
                continue
            done, _ = await asyncio.wait(
                in_flight, timeout=wait, return_when=asyncio.FIRST_COMPLETED
            )
            for task in done:
                outcome = plan.settle(in_flight.pop(task), task.result())
                if outcome is not None:
                    yield outcome
    finally:
        for task in in_flight:
            task.cancel()
        if in_flight:
            await asyncio.gather(*in_flight, return_exceptions=True)
