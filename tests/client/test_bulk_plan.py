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
    CATCH_UP,
    PACE_CREDIT,
    PACE_GROWTH,
    PACE_PROBE,
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


class _Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    fake = _Clock()
    monkeypatch.setattr(_bulk, "time", fake)
    return fake


def _successes(limit: AdaptiveLimit, clock: _Clock, count: int, seconds: float) -> None:
    for _ in range(count):
        clock.advance(seconds / count)
        limit.on_success()


def _load_cut(clock: _Clock) -> tuple[AdaptiveLimit, float]:
    """A bucket emptied: 50 passed in 0.5 s, then the 16 in flight were refused.

    Returns the limit and when its pause ends.
    """
    limit = AdaptiveLimit(16)
    limit.started(clock.now)
    _successes(limit, clock, 50, 0.5)
    limit.on_rate_limited(1.0)
    assert (limit.limit, limit.rate) == (16, None)  # judged once those in flight answer
    for _ in range(15):
        clock.advance(0.001)
        limit.on_rate_limited(1.0)
    return limit, clock.now + 1.0


def test_a_429_most_requests_in_flight_share_is_the_load_and_sets_a_pace(clock: _Clock) -> None:
    limit, _ = _load_cut(clock)
    assert (limit.limit, limit.cuts, limit.rate_limited) == (8, 1, 16)
    # The first cut: 50 passed, then "wait 1 s": about 50 per 1.5 s at most.
    assert _pace(limit) == pytest.approx(50 / 1.5)


def test_a_429_among_successes_is_not_the_load_and_cuts_nothing(clock: _Clock) -> None:
    # A service that sheds a request at random: the others in flight succeed.
    limit = AdaptiveLimit(16)
    limit.started(clock.now)
    limit.on_rate_limited(1.0)
    _successes(limit, clock, 15, 0.015)
    assert (limit.limit, limit.rate, limit.cuts) == (16, None, 0)
    assert limit.pause_left() == pytest.approx(1.0 - 0.015)  # the pause still holds


def test_random_429s_never_collapse_the_limit(clock: _Clock) -> None:
    # One answer in twenty refused whatever the load (the bench's random-429 row): the
    # limit stays at the ceiling and no pace is set, so only the pauses slow it down.
    limit = AdaptiveLimit(32)
    limit.started(clock.now)
    for answer in range(1, 2001):
        clock.advance(0.002)
        if answer % 20 == 0:
            limit.on_rate_limited(1.0)
        else:
            limit.on_success()
    assert (limit.limit, limit.rate, limit.cuts, limit.rate_limited) == (32, None, 0, 100)


def test_a_429_with_nothing_else_in_flight_is_judged_when_its_pause_ends(clock: _Clock) -> None:
    limit = AdaptiveLimit(16)
    limit.started(clock.now)
    _successes(limit, clock, 20, 0.2)
    limit.on_rate_limited(1.0)
    clock.advance(1.01)
    limit.on_success()  # the refused request, sent again after the pause
    assert (limit.limit, limit.cuts) == (8, 1)
    assert _pace(limit) == pytest.approx(20 / 1.2 + PACE_GROWTH)  # this success grows it


def test_the_pace_grows_fast_up_to_what_the_window_measured_then_probes(clock: _Clock) -> None:
    limit, _ = _load_cut(clock)
    first = _pace(limit)
    limit.on_success()
    assert _pace(limit) == pytest.approx(first + PACE_GROWTH)
    # A second cut measures from the first (the bucket was empty then), over 2 s.
    _successes(limit, clock, 60, 2.0)
    grown = _pace(limit)
    assert grown == pytest.approx(first + 61 * PACE_GROWTH)
    since_cut = clock.now - (1000.0 + 0.5)
    limit.on_rate_limited(1.0)
    clock.advance(1.0)
    limit.on_success()
    assert limit.cuts == 2
    measured = 61 / since_cut
    assert _pace(limit) == pytest.approx(min(grown, measured) + PACE_PROBE)


def test_when_a_pause_ends_the_starts_it_held_back_go_at_once(clock: _Clock) -> None:
    limit, now = _load_cut(clock)
    rate = _pace(limit)
    assert limit.start_delay(now - 0.01) > 0  # the pause holds until `now`
    at_once = 0
    while limit.start_delay(now) == 0:
        limit.started(now)
        at_once += 1
    # CATCH_UP of a second at the pace, less the 16 refused (resent outside the pace),
    # plus what a late loop may make up.
    assert abs(at_once - (CATCH_UP * rate - 16 + PACE_CREDIT * rate)) <= 1
    first = limit.start_delay(now)
    assert 0 < first <= 1 / rate
    limit.started(now + first)  # on time: the next start is one step of the pace later
    assert limit.start_delay(now) == pytest.approx(first + 1 / rate)


def test_a_late_loop_makes_up_only_a_little_of_the_pace(clock: _Clock) -> None:
    limit, now = _load_cut(clock)
    rate = _pace(limit)
    while limit.start_delay(now) == 0:
        limit.started(now)
    now += 5.0  # nothing started for 5 s: not 5 s worth at once
    at_once = 0
    while limit.start_delay(now) == 0:
        limit.started(now)
        at_once += 1
    assert abs(at_once - PACE_CREDIT * rate) <= 1


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
