"""The submit plan both bulk engines follow, and the pace a rate limit sets (no I/O)."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Iterator

import pytest

from together_queue import AdaptiveLimit, SubmitStream, _bulk
from together_queue._bulk import (
    PACE_CREDIT,
    PACE_GROWTH,
    RATE_LIMIT_ROUNDS,
    SubmitPlan,
    run_many,
)
from together_queue._retry import SendObserver


def test_the_plan_starts_items_up_to_the_limit_then_waits_for_an_answer() -> None:
    plan: SubmitPlan[str, int] = SubmitPlan(range(5), AdaptiveLimit(2), backlog=2)
    assert plan.take(0.0) == (0, 0)
    assert plan.take(0.0) == (1, 1)
    assert plan.take(0.0) == math.inf  # two in flight: wait until woken
    assert plan.finish(0, 0, "a", None) == 1  # one slot free
    assert plan.take(0.0) == (2, 2)
    assert [o.value for o in plan.take_outcomes()] == ["a"]


def test_the_plan_holds_back_while_outcomes_are_not_taken() -> None:
    plan: SubmitPlan[str, int] = SubmitPlan(range(10), AdaptiveLimit(1), backlog=1)
    for _ in range(2):  # the backlog and one more
        step = plan.take(0.0)
        assert isinstance(step, tuple)
        index, item = step
        plan.finish(index, item, str(item), None)
    assert plan.take(0.0) == math.inf and plan.room() == 0
    plan.ready.popleft()
    assert plan.take(0.0) == (2, 2)


def test_the_plan_ends_on_exhaustion_stop_or_an_items_error() -> None:
    plan: SubmitPlan[str, int] = SubmitPlan([], AdaptiveLimit(2), backlog=2)
    assert plan.take(0.0) is None and plan.finished

    stopped: SubmitPlan[str, int] = SubmitPlan(range(3), AdaptiveLimit(2), backlog=2)
    stopped.stop()
    assert stopped.take(0.0) is None and stopped.finished

    def broken() -> Iterator[object]:
        yield 1
        raise ValueError("bad line")

    failing: SubmitPlan[str, object] = SubmitPlan(broken(), AdaptiveLimit(2), backlog=2)
    assert failing.take(0.0) == (0, 1)
    assert failing.take(0.0) is None
    assert isinstance(failing.error, ValueError) and failing.stopped
    assert not failing.finished  # item 0 is still in flight


def test_the_plan_waits_for_a_pause_and_resends_a_refused_submit_a_bounded_number_of_times() -> (
    None
):
    limit = AdaptiveLimit(4)
    plan: SubmitPlan[str, int] = SubmitPlan(range(3), limit, backlog=4)
    limit.on_rate_limited(30.0)
    delay = plan.take(time.monotonic())
    assert isinstance(delay, float) and 29 < delay <= 30
    assert 29 < (plan.resend_delay(0) or 0) <= 30
    assert plan.resend_delay(RATE_LIMIT_ROUNDS) is None
    plan.stop()
    assert plan.resend_delay(0) is None


def _pace(limit: AdaptiveLimit) -> float:
    assert limit.rate is not None
    return limit.rate


def test_a_cut_sets_the_pace_a_token_bucket_would_have_let_through() -> None:
    limit = AdaptiveLimit(16)
    limit.started(time.monotonic())
    assert limit.rate is None and limit.start_delay(time.monotonic()) == 0
    for _ in range(50):
        limit.on_success()
    limit.on_rate_limited(1.0)  # 50 passed, then "wait 1 s": about 50 per second at most
    rate = _pace(limit)
    assert 40 < rate <= 50
    now = time.monotonic() + 2  # after the pause
    at_once = 0
    while limit.start_delay(now) == 0:  # a late loop may make up PACE_CREDIT of the pace
        limit.started(now)
        at_once += 1
    assert abs(at_once - PACE_CREDIT * rate) <= 1
    first = limit.start_delay(now)
    assert 0 < first <= 1 / rate
    limit.started(now + first)  # on time: the next start is one step of the pace later
    assert limit.start_delay(now) == pytest.approx(first + 1 / rate)
    for _ in range(round(rate)):  # a second's worth of successes: PACE_GROWTH more
        limit.on_success()
    assert _pace(limit) == pytest.approx(rate + PACE_GROWTH, rel=0.01)


def test_fixed_concurrency_sets_no_pace() -> None:
    limit = AdaptiveLimit(16, adaptive=False)
    limit.on_rate_limited(None)
    assert limit.rate is None


def test_sync_stream_refills_a_freed_slot_without_waiting_for_the_consumer() -> None:
    # The same rule as the async stream: a slot freed by an answer goes to the next item
    # at once, bounded by one round of outcomes not yet taken.
    started: list[int] = []
    four_started = threading.Event()
    lock = threading.Lock()

    def send(item: int, observer: SendObserver) -> int:
        with lock:
            started.append(item)
            if len(started) >= 4:
                four_started.set()
        return item

    stream = SubmitStream(iter(range(100)), send, concurrency=2)
    first = next(stream)
    assert first.ok
    assert four_started.wait(timeout=5)  # the consumer takes nothing meanwhile
    rest = stream.close()
    assert len(started) <= 2 + 2 + 1
    assert sorted(o.index for o in [first, *rest]) == sorted(started)


def test_run_many_wakes_the_caller_once_at_the_end_not_once_per_outcome() -> None:
    # A caller woken for every outcome costs a thread switch each (the sync bulk
    # submit's largest engine cost, measured in the bench): run_many takes them at the end.
    items, concurrency = 200, 4
    stream = _bulk._WholeStream(range(items), _slow_echo, concurrency=concurrency)
    answer = stream._crew.answer
    wakes = [0]
    wait = answer.wait

    def counted(timeout: float | None = None) -> bool:
        wakes[0] += 1
        return wait(timeout)

    answer.wait = counted  # type: ignore[method-assign]
    outcomes = stream._wait_all()
    stream.close()
    assert sorted(o.index for o in outcomes) == list(range(items))
    assert wakes[0] <= concurrency + 1  # each worker's end may wake it; never per outcome


def test_run_many_keeps_order_and_needs_no_consumer_beyond_the_backlog() -> None:
    outcomes = run_many(range(300), _slow_echo, 3)
    assert [o.value for o in outcomes] == list(range(300))


def test_arun_many_wakes_the_caller_once_at_the_end_not_once_per_outcome() -> None:
    items, concurrency = 200, 4

    async def send(item: int, observer: SendObserver) -> int:
        await asyncio.sleep(0.001)
        observer.on_success()
        return item

    async def run() -> tuple[list[int], int]:
        stream = _bulk._AsyncWholeStream(range(items), send, concurrency=concurrency)
        parking = stream._answer
        wakes = [0]
        wait = parking.wait

        async def counted(timeout: float) -> None:
            wakes[0] += 1
            await wait(timeout)

        parking.wait = counted  # type: ignore[method-assign]
        outcomes = await stream._wait_all()
        await stream.aclose()
        return sorted(o.index for o in outcomes), wakes[0]

    indices, wakes = asyncio.run(run())
    assert indices == list(range(items))
    assert wakes <= concurrency + 1


def _slow_echo(item: int, observer: SendObserver) -> int:
    time.sleep(0.001)  # a request's time on the wire, the GIL released as a socket would
    observer.on_success()
    return item


def test_429s_during_the_pause_they_asked_for_are_one_signal() -> None:
    # Sixteen polls in flight when a bucket empties all come back 429: one cut, not three.
    limit = AdaptiveLimit(16)
    for _ in range(16):
        limit.on_rate_limited(1.0)
    assert (limit.limit, limit.rate_limited) == (8, 16)
