"""Bulk helpers: submit many jobs and wait on many, with bounded concurrency, sync and async.

Every item gets an `Outcome`: one failure never hides the others' results.
Waiting on many jobs runs from one loop over a schedule of due polls (not a
thread or task parked per job), so ten thousand waits cost a handful of
threads and at most `concurrency` requests in flight.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Generic, TypeVar

import attrs

from together_queue._models import JobStatus, Outcome
from together_queue._polling import PollPolicy, PollSchedule, Waiter

if TYPE_CHECKING:
    import asyncio

T = TypeVar("T")
H = TypeVar("H")
I = TypeVar("I")  # noqa: E741 - item type


# -- submitting ------------------------------------------------------------------


def run_many(items: Iterable[I], fn: Callable[[I], T], concurrency: int) -> list[Outcome[T]]:
    """Apply `fn` to every item on `concurrency` threads; outcomes in input order."""
    source = iter(enumerate(items))
    lock = threading.Lock()
    results: dict[int, Outcome[T]] = {}

    def worker() -> None:
        while True:
            with lock:
                nxt = next(source, None)
            if nxt is None:
                return
            index, item = nxt
            try:
                results[index] = Outcome(index, item, value=fn(item))
            except Exception as exc:  # every outcome is kept, the error included
                results[index] = Outcome(index, item, error=exc)

    with concurrent.futures.ThreadPoolExecutor(concurrency, "together-queue-submit") as pool:
        for future in [pool.submit(worker) for _ in range(concurrency)]:
            future.result()
    return [results[i] for i in sorted(results)]


async def arun_many(
    items: Iterable[I], fn: Callable[[I], Awaitable[T]], concurrency: int
) -> list[Outcome[T]]:
    """Await `fn` for every item with at most `concurrency` in flight; outcomes in input order."""
    import asyncio  # here, not at the top: sync users should not pay for loading it

    source = iter(enumerate(items))
    results: dict[int, Outcome[T]] = {}

    async def worker() -> None:
        # One event loop thread: `next()` needs no lock.
        for index, item in source:
            try:
                results[index] = Outcome(index, item, value=await fn(item))
            except Exception as exc:
                results[index] = Outcome(index, item, error=exc)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return [results[i] for i in sorted(results)]


# -- waiting -----------------------------------------------------------------------


@attrs.define
class _WaitPlan(Generic[H]):
    """The I/O-free part of waiting on many jobs: who is due, and what each outcome means."""

    jobs: Sequence[H]
    policy: PollPolicy
    timeout: float | None
    concurrency: int
    on_update: Callable[[H, JobStatus], object] | None
    schedule: PollSchedule[int] = attrs.field(factory=PollSchedule)
    waiters: dict[int, Waiter] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        now = time.monotonic()
        deadline = None if self.timeout is None else now + self.timeout
        for index, job in enumerate(self.jobs):
            self.waiters[index] = Waiter(
                label=repr(job),
                policy=self.policy,
                deadline=deadline,
                on_update=self._callback(job),
                raise_on_failure=False,
            )
            self.schedule.add(index, now)

    def _callback(self, job: H) -> Callable[[JobStatus], object] | None:
        if self.on_update is None:
            return None
        on_update = self.on_update
        return lambda status: on_update(job, status)

    def due(self, in_flight: int) -> list[int]:
        """Indices to poll now, keeping at most `concurrency` polls in flight."""
        return self.schedule.pop_due(time.monotonic(), self.concurrency - in_flight)

    def idle_seconds(self) -> float | None:
        """How long nothing is due (None: nothing left to schedule)."""
        nxt = self.schedule.next_due()
        return None if nxt is None else max(0.0, nxt - time.monotonic())

    def settle(self, index: int, result: JobStatus | BaseException) -> Outcome[JobStatus] | None:
        """Apply a poll's result; the job's final Outcome, or None when it is rescheduled."""
        job = self.jobs[index]
        waiter = self.waiters[index]
        try:
            delay = waiter.feed(result, time.monotonic())
        except Exception as exc:
            return Outcome(index, job, error=exc)
        if delay is None:
            return Outcome(index, job, value=waiter.final)
        self.schedule.add(index, time.monotonic() + delay)
        return None


def _poll_outcome(fetch: Callable[[H], JobStatus], job: H) -> JobStatus | BaseException:
    try:
        return fetch(job)
    except Exception as exc:  # settled by the plan: transient ones are retried
        return exc


def iter_completed(
    jobs: Sequence[H],
    fetch: Callable[[H], JobStatus],
    *,
    policy: PollPolicy,
    timeout: float | None,
    concurrency: int,
    on_update: Callable[[H, JobStatus], object] | None,
) -> Iterator[Outcome[JobStatus]]:
    """Yield each job's final Outcome as it completes, polling on a thread pool."""
    plan = _WaitPlan(jobs, policy, timeout, concurrency, on_update)
    pool = concurrent.futures.ThreadPoolExecutor(concurrency, "together-queue-wait")
    in_flight: dict[concurrent.futures.Future[JobStatus | BaseException], int] = {}
    try:
        while plan.schedule or in_flight:
            for index in plan.due(len(in_flight)):
                in_flight[pool.submit(_poll_outcome, fetch, jobs[index])] = index
            idle = plan.idle_seconds()
            if not in_flight:
                time.sleep(idle or 0.0)
                continue
            done, _ = concurrent.futures.wait(
                in_flight, timeout=idle, return_when=concurrent.futures.FIRST_COMPLETED
            )
            for future in done:
                outcome = plan.settle(in_flight.pop(future), future.result())
                if outcome is not None:
                    yield outcome
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


async def aiter_completed(
    jobs: Sequence[H],
    fetch: Callable[[H], Awaitable[JobStatus]],
    *,
    policy: PollPolicy,
    timeout: float | None,
    concurrency: int,
    on_update: Callable[[H, JobStatus], object] | None,
) -> AsyncIterator[Outcome[JobStatus]]:
    """Yield each job's final Outcome as it completes, polling with tasks."""
    import asyncio

    plan = _WaitPlan(jobs, policy, timeout, concurrency, on_update)
    in_flight: dict[asyncio.Task[JobStatus | BaseException], int] = {}

    async def poll(job: H) -> JobStatus | BaseException:
        try:
            return await fetch(job)
        except Exception as exc:  # settled by the plan: transient ones are retried
            return exc

    try:
        while plan.schedule or in_flight:
            for index in plan.due(len(in_flight)):
                in_flight[asyncio.ensure_future(poll(jobs[index]))] = index
            idle = plan.idle_seconds()
            if not in_flight:
                await asyncio.sleep(idle or 0.0)
                continue
            done, _ = await asyncio.wait(
                in_flight, timeout=idle, return_when=asyncio.FIRST_COMPLETED
            )
            for task in done:
                outcome = plan.settle(in_flight.pop(task), task.result())
                if outcome is not None:
                    yield outcome
    finally:
        for task in in_flight:
            task.cancel()
