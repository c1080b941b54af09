"""Run times learned by a bulk wait (`Durations`) and the polls they place, without I/O."""

from __future__ import annotations

import datetime
import math
import time

import attrs
import pytest

from together_queue import JobStatus, PollPolicy
from together_queue._bulk import AdaptiveLimit, _WaitPlan
from together_queue._durations import MIN_FINISHED, SAMPLE, Durations
from together_queue._polling import MIN_AIMED_DELAY, PollState

CLAIMED = 1_000_000.0  # every job's `claimed_at`, epoch seconds
POLICY = PollPolicy(initial=0.2, multiplier=2.0, max_interval=5.0, jitter=0.0, poll_cost=0.02)


def _finished(durations: Durations, *seconds: float, model: str = "m") -> None:
    for duration in seconds:
        durations.finished(model, 0.0, duration)


def _evenly(low: float, high: float, count: int) -> list[float]:
    return [low + (high - low) * (k + 0.5) / count for k in range(count)]


def _at(seconds: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(CLAIMED + seconds, datetime.UTC)


def _status(status: str = "running", done: float | None = None, **info: object) -> JobStatus:
    return JobStatus(
        request_id="r",
        model="m",
        status=status,
        info=info,
        claimed_at=_at(0.0),
        done_at=None if done is None else _at(done),
    )


def test_nothing_is_learned_from_fewer_than_a_handful_of_finished_jobs() -> None:
    durations = Durations()
    _finished(durations, *_evenly(1.0, 2.0, MIN_FINISHED - 1))
    assert durations.next_age("m", 0.5, cost=0.02, span=5.0) is None
    _finished(durations, 1.5)
    assert durations.next_age("m", 0.5, cost=0.02, span=5.0) is not None
    assert durations.next_age("other model", 0.5, cost=0.02, span=5.0) is None


def test_no_poll_before_the_shortest_run_time_then_where_the_lag_is_worth_a_request() -> None:
    durations = Durations()
    _finished(durations, *_evenly(2.0, 3.0, 200))
    age = durations.next_age("m", 0.5, cost=0.02, span=5.0)
    # Uniform on [2, 3]: the lag a poll at t saves is (t - 2)^2 / 2, worth 0.02 at t = 2.2.
    assert age == pytest.approx(2.0 + math.sqrt(2 * 0.02), abs=0.05)
    # Never later than `span` after the job's age.
    assert durations.next_age("m", 0.5, cost=0.02, span=1.0) == pytest.approx(1.5)


def test_polls_come_closer_together_as_a_job_ages_when_the_hazard_rises() -> None:
    durations = Durations()
    _finished(durations, *_evenly(1.0, 5.0, 400))
    young = durations.next_age("m", 2.0, cost=0.02, span=5.0)
    old = durations.next_age("m", 4.0, cost=0.02, span=5.0)
    assert young is not None and old is not None
    # sqrt(2 * cost / hazard), hazard 1 / (5 - age): about 0.35 s at 2 s, 0.2 s at 4 s.
    assert young - 2.0 == pytest.approx(math.sqrt(2 * 0.02 * 3), rel=0.25)
    assert old - 4.0 == pytest.approx(math.sqrt(2 * 0.02 * 1), rel=0.25)
    assert old - 4.0 < young - 2.0


def test_running_jobs_count_as_survivors_so_short_ones_do_not_bias_the_estimate() -> None:
    finished_only, censored = Durations(), Durations()
    for durations in (finished_only, censored):
        _finished(durations, *_evenly(1.0, 1.5, 20))
    for _ in range(180):  # still running at 1.5 s: most jobs take longer
        censored.survived("m", 0.0, 1.5)
    eager = finished_only.next_age("m", 1.0, cost=0.02, span=5.0)
    patient = censored.next_age("m", 1.0, cost=0.02, span=5.0)
    assert eager is not None and patient is not None
    assert patient - 1.0 > 2 * (eager - 1.0)


def test_a_job_older_than_any_seen_goes_back_to_the_backoff() -> None:
    durations = Durations()
    _finished(durations, *_evenly(1.0, 2.0, 50))
    # One slow job outliving every other: no learned time for it.
    assert durations.next_age("m", 30.0, cost=0.02, span=5.0) is None


def test_progress_bounds_condition_the_learned_times() -> None:
    durations = Durations()
    _finished(durations, *_evenly(1.0, 5.0, 400))
    # Known to end in (3, 3.5]: the poll stays within, never past 3.5.
    aimed = durations.next_age("m", 1.0, cost=0.02, span=5.0, bounds=(3.0, 3.5))
    assert aimed is not None and 3.0 < aimed <= 3.5
    coarse = durations.next_age("m", 1.0, cost=1.0, span=5.0, bounds=(3.0, 3.5))
    assert coarse == pytest.approx(3.5)
    # Learned times that say it cannot end within the bounds: nothing learned for it.
    _finished(durations, *_evenly(4.0, 5.0, 10), model="long")
    assert durations.next_age("long", 1.0, cost=0.02, span=5.0, bounds=(1.0, 1.5)) is None


def test_progress_steps_are_the_smallest_value_or_rise_seen() -> None:
    durations = Durations()
    assert durations.step("m") is None
    durations.saw_progress("m", 0.5, None)
    durations.saw_progress("m", 0.75, 0.5)
    durations.saw_progress("m", 0.25, 0.75)  # restarted: a value, not a rise
    durations.saw_progress("m", 0.2500001, 0.25)  # noise, not a step
    assert durations.step("m") == 0.25


def test_a_poll_state_learns_from_finished_jobs_and_aims_by_them() -> None:
    durations = Durations()
    _finished(durations, *_evenly(2.0, 3.0, 200))
    state = PollState(POLICY, durations=durations)
    state.observe(_status(), now=0.0, wall=CLAIMED + 0.5)
    # The backoff would say 0.2 s; nothing of this model ends before 2 s.
    assert state.next_delay(0.0, wall=CLAIMED + 0.5) == pytest.approx(1.7, abs=0.05)
    # The same job finishing adds its exact run time, from the service's timestamps.
    before = durations.next_age("m", 0.5, cost=0.02, span=5.0)
    for _ in range(100):
        other = PollState(POLICY, durations=durations)
        other.observe(_status("done", done=2.05), now=3.0, wall=CLAIMED + 3.0)
    after = durations.next_age("m", 0.5, cost=0.02, span=5.0)
    assert before is not None and after is not None and after < before


def test_a_job_at_progress_zero_is_bounded_by_the_step_of_the_others() -> None:
    durations = Durations()
    _finished(durations, *_evenly(1.0, 5.0, 400))
    durations.saw_progress("m", 0.25, 0.0)
    state = PollState(POLICY, durations=durations)
    state.observe(_status(progress=0.0), now=0.0, wall=CLAIMED + 0.75)
    # Not at 0.25 after 0.75 s: it runs more than 3 s, so no poll before then.
    delay = state.next_delay(0.0, wall=CLAIMED + 0.75)
    assert 3.0 - 0.75 < delay <= 5.0


def test_a_lone_wait_keeps_the_backoff() -> None:
    state = PollState(POLICY)
    state.observe(_status(), now=0.0, wall=CLAIMED + 0.5)
    assert state.next_delay(0.0, wall=CLAIMED + 0.5) == pytest.approx(0.2)


def test_learned_delays_stay_within_the_policy() -> None:
    durations = Durations()
    _finished(durations, *_evenly(1.0, 1.01, 100))
    state = PollState(POLICY, durations=durations)
    state.observe(_status(), now=0.0, wall=CLAIMED + 1.005)
    assert state.next_delay(0.0, wall=CLAIMED + 1.005) >= MIN_AIMED_DELAY
    far = Durations()
    _finished(far, *_evenly(100.0, 101.0, 100))
    for _ in range(100):
        far.survived("m", 0.0, 1.0)
    state = PollState(POLICY, durations=far)
    state.observe(_status(), now=0.0, wall=CLAIMED + 1.0)
    assert state.next_delay(0.0, wall=CLAIMED + 1.0) == POLICY.max_interval


def test_learning_can_be_turned_off() -> None:
    durations = Durations()
    _finished(durations, *_evenly(2.0, 3.0, 200))
    state = PollState(attrs.evolve(POLICY, learn=False), durations=durations)
    state.observe(_status(), now=0.0, wall=CLAIMED + 0.5)
    assert state.next_delay(0.0, wall=CLAIMED + 0.5) == pytest.approx(0.2)


def test_the_jobs_of_one_bulk_wait_share_what_they_learn() -> None:
    plan: _WaitPlan[str] = _WaitPlan(
        iter(["a", "b"]), POLICY, None, AdaptiveLimit(4), None, window=8
    )
    plan.due(0)
    shared = {id(entry.waiter._state.durations) for entry in plan.active.values()}
    assert shared == {id(plan.durations)}


@pytest.mark.parametrize("cost", [0.0, -1.0, math.inf, True])
def test_poll_cost_must_be_a_positive_number(cost: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        PollPolicy(poll_cost=cost)  # type: ignore[arg-type]


def test_a_poll_aimed_past_what_is_known_is_planned_again_before_it_is_sent() -> None:
    durations = Durations()
    _finished(durations, *_evenly(0.5, 1.0, 50))
    for _ in range(100):
        durations.survived("m", 0.0, 1.0)  # known up to 1 s: past that, extrapolated
    state = PollState(POLICY, durations=durations)
    state.observe(_status(), now=0.0, wall=CLAIMED + 0.5)
    # Aimed within what is known: sent as planned.
    delay = state.next_delay(0.0, wall=CLAIMED + 0.5)
    assert CLAIMED + 0.5 + delay <= CLAIMED + 1.0 + MIN_AIMED_DELAY
    assert state.replan(CLAIMED + 0.5 + delay) is None

    # Seen at 1.5 s, older than any seen: the learned aim (from the hazard at 1 s) is
    # past what is known, so the job wakes halfway to plan again, no request sent.
    slow = PollState(POLICY, durations=durations)
    slow.observe(_status(), now=0.0, wall=CLAIMED + 1.05)
    first = slow.next_delay(0.0, wall=CLAIMED + 1.05)
    aimed = durations.next_age("m", 1.05, cost=POLICY.poll_cost, span=5.0)
    assert aimed is not None
    assert first == pytest.approx((aimed - 1.05) / 2)
    # Meanwhile the other jobs show that none ends before 3 s: the poll moves later.
    for _ in range(100):
        durations.survived("m", 1.0, 3.0)
    later = slow.replan(CLAIMED + 1.05 + first)
    assert later is not None and later > aimed - 1.05
    # Planned again once at most: the next wake sends the poll.
    assert slow.replan(CLAIMED + 1.05 + first + later) is None


def test_a_bulk_wait_sends_no_poll_for_a_job_planned_again() -> None:
    plan: _WaitPlan[str] = _WaitPlan(iter(["a"]), POLICY, None, AdaptiveLimit(4), None, window=8)
    _finished(plan.durations, *_evenly(0.5, 1.0, 50))
    for _ in range(100):
        plan.durations.survived("m", 0.0, 1.0)
    assert plan.due(0) == [(0, "a")]
    claimed = datetime.datetime.fromtimestamp(time.time() - 1.05, datetime.UTC)
    running = JobStatus(request_id="r", model="m", status="running", claimed_at=claimed)
    assert plan.settle(0, running) is None  # aimed past 1 s: a wake to plan again
    for _ in range(100):
        plan.durations.survived("m", 1.0, 3.0)
    plan.schedule.pop_due(math.inf, 1)
    plan.schedule.add(0, time.monotonic())  # as if its wake were due now
    assert plan.due(0) == []  # planned again, later: no poll sent
    due = plan.schedule.next_due()
    assert due is not None and due > time.monotonic()


# -- the first poll of a job not polled yet ------------------------------------------


def _claimed(durations: Durations, epoch: float, count: int = 16, model: str = "m") -> None:
    for _ in range(count):
        durations.claimed(model, epoch)


def test_a_first_poll_waits_until_a_job_claimed_like_the_others_may_be_done() -> None:
    durations = Durations()
    _finished(durations, *_evenly(2.0, 3.0, 200))
    _claimed(durations, CLAIMED)
    # Run times uniform on [2, 3], claimed at CLAIMED: P(s) = a - 2 and p(s) = 1 at age
    # a in [2, 3], so P reaches 0.5 * p at a = 2.5.
    due = durations.first_poll_at("m", CLAIMED + 0.1, worth=0.5)
    assert due is not None
    assert due == pytest.approx(CLAIMED + 2.5, abs=0.06)
    # A larger worth of the polls saved puts it later.
    later = durations.first_poll_at("m", CLAIMED + 0.1, worth=0.8)
    assert later is not None and later > due + 0.2


def test_a_first_poll_goes_at_once_when_the_jobs_seen_are_long_done() -> None:
    durations = Durations()
    _finished(durations, *_evenly(2.0, 3.0, 200))
    _claimed(durations, CLAIMED - 100.0)  # claimed long before: done by now
    now = CLAIMED
    assert durations.first_poll_at("m", now, worth=0.5) == now


def test_a_first_poll_is_not_planned_from_too_little() -> None:
    durations = Durations()
    _finished(durations, *_evenly(2.0, 3.0, MIN_FINISHED))
    _claimed(durations, CLAIMED, count=15)
    assert durations.first_poll_at("m", CLAIMED, worth=0.5) is None  # 15 claims
    _claimed(durations, CLAIMED, count=1)
    assert durations.first_poll_at("m", CLAIMED, worth=0.5) is not None
    assert durations.first_poll_at("other", CLAIMED, worth=0.5) is None
    few = Durations()
    _finished(few, *_evenly(2.0, 3.0, MIN_FINISHED - 1))
    _claimed(few, CLAIMED)
    assert few.first_poll_at("m", CLAIMED, worth=0.5) is None  # too few finished


def test_a_first_poll_is_planned_anew_when_more_is_seen() -> None:
    durations = Durations()
    _finished(durations, *_evenly(2.0, 3.0, 200))
    _claimed(durations, CLAIMED)
    first = durations.first_poll_at("m", CLAIMED, worth=0.5)
    assert durations.first_poll_at("m", CLAIMED + 0.5, worth=0.5) == first  # nothing new
    _claimed(durations, CLAIMED - 10.0, count=64)  # the jobs turn out older: done
    assert durations.first_poll_at("m", CLAIMED + 0.5, worth=0.5) == CLAIMED + 0.5


def test_the_claims_kept_are_bounded() -> None:
    durations = Durations()
    _claimed(durations, CLAIMED, count=1000)
    assert len(durations._models["m"].claims) == 64


def test_a_poll_state_defers_its_first_poll_by_what_the_other_jobs_taught() -> None:
    durations = Durations()
    _finished(durations, *_evenly(2.0, 3.0, 200))
    _claimed(durations, CLAIMED)
    policy = attrs.evolve(POLICY, poll_cost=0.25, max_interval=5.0)
    state = PollState(policy, durations=durations, model="m")
    delay = state.replan(CLAIMED + 0.1)
    assert delay is not None and 2.0 < 0.1 + delay < 3.0
    # Never put off for longer than `max_interval` from when it was first due.
    short = PollState(attrs.evolve(policy, max_interval=1.0), durations=durations, model="m")
    assert short.replan(CLAIMED + 0.1) == pytest.approx(1.0)
    assert short.replan(CLAIMED + 1.1) is None
    # No model, no shared run times, or learning off: the first poll goes at once.
    assert PollState(policy, durations=durations).replan(CLAIMED + 0.1) is None
    assert PollState(policy, model="m").replan(CLAIMED + 0.1) is None
    off = attrs.evolve(policy, learn=False)
    assert PollState(off, durations=durations, model="m").replan(CLAIMED + 0.1) is None


def test_a_poll_state_records_each_claim_it_sees() -> None:
    durations = Durations()
    state = PollState(POLICY, durations=durations, model="m")
    state.observe(_status(), now=0.0, wall=CLAIMED + 0.5)
    state.observe(_status(), now=0.3, wall=CLAIMED + 0.8)  # the same claim
    assert durations._models["m"].claims == [CLAIMED]


class _Handle:
    def __init__(self, model: str) -> None:
        self.model = model


def test_a_bulk_wait_puts_off_the_first_polls_of_young_jobs_of_a_long_running_model() -> None:
    young, other = _Handle("m"), _Handle("n")
    plan: _WaitPlan[_Handle] = _WaitPlan(
        iter([young, other]), POLICY, None, AdaptiveLimit(4), None, window=8
    )
    _finished(plan.durations, *_evenly(2.0, 3.0, 200))
    _claimed(plan.durations, time.time())  # jobs of `m` were claimed just now
    # `n` has taught nothing: polled at once; `m` is put off, no request sent for it.
    assert plan.due(0) == [(1, other)]
    due = plan.schedule.next_due()
    assert due is not None and due > time.monotonic() + 1.0


# -- a sample of first polls while too little is known ---------------------------------


def test_first_polls_past_the_sample_wait_while_too_little_is_known() -> None:
    durations = Durations()
    for _ in range(SAMPLE - 1):
        durations.first_poll_sent("m")
    assert durations.first_poll_at("m", CLAIMED, worth=0.5) is None  # still sampling
    durations.first_poll_sent("m")
    later = durations.first_poll_at("m", CLAIMED, worth=0.5)
    assert later is not None and CLAIMED + MIN_AIMED_DELAY < later < CLAIMED + 1.0
    assert durations.first_poll_at("other", CLAIMED, worth=0.5) is None  # per model
    # Once the sample has taught the run times, the first polls are planned by them.
    _finished(durations, *_evenly(2.0, 3.0, MIN_FINISHED))
    _claimed(durations, CLAIMED - 100.0)  # claimed long before: done by now
    assert durations.first_poll_at("m", CLAIMED, worth=0.5) == CLAIMED


def test_jobs_that_end_without_a_run_time_end_the_wait_for_the_sample() -> None:
    durations = Durations()
    for _ in range(SAMPLE):
        durations.first_poll_sent("m")
    state = PollState(POLICY, durations=durations, model="m")
    failed = attrs.evolve(_status("failed"), done_at=None)
    for _ in range(MIN_FINISHED - 1):
        durations.ended("m")
    state.observe(failed, now=0.0, wall=CLAIMED + 1.0)
    state.observe(failed, now=0.1, wall=CLAIMED + 1.1)  # seen again: counted once
    assert durations._models["m"].ended == MIN_FINISHED
    # A model whose jobs fail teaches no run time: the other first polls go at once.
    assert durations.first_poll_at("m", CLAIMED + 1.0, worth=0.5) is None


def test_a_first_poll_counts_once_in_the_sample_though_it_is_sent_again() -> None:
    durations = Durations()
    state = PollState(POLICY, durations=durations, model="m")
    assert state.replan(CLAIMED) is None
    assert state.replan(CLAIMED + 0.2) is None  # the first poll failed: sent again
    assert durations._models["m"].first_polls == 1


def test_a_bulk_wait_polls_a_sample_first_and_the_rest_within_max_interval() -> None:
    handles = [_Handle("m") for _ in range(3 * SAMPLE)]
    plan: _WaitPlan[_Handle] = _WaitPlan(
        iter(handles), POLICY, None, AdaptiveLimit(16), None, window=len(handles)
    )
    claimed = datetime.datetime.now(datetime.UTC)
    running = JobStatus(request_id="r", model="m", status="running", claimed_at=claimed)
    polled: list[int] = []
    for _ in range(len(handles)):  # answer every poll at once, as long as polls go
        due = plan.due(0)
        if not due:
            break
        for index, _handle in due:
            polled.append(index)
            assert plan.settle(index, running) is None
    # Nothing finished: only the sample's first polls went, the oldest jobs first.
    assert sorted(polled) == list(range(SAMPLE))
    # The others look again soon, and are polled at most `max_interval` after they were due.
    waiting = PollState(POLICY, durations=plan.durations, model="m")
    delay = waiting.replan(time.time())
    assert delay is not None and MIN_AIMED_DELAY < delay < 1.0
    assert waiting.replan(time.time() + POLICY.max_interval) is None
