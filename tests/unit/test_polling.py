"""The polling policy and waiter, without I/O: delays, progress estimates, deadlines."""

from __future__ import annotations

import pytest

from together_queue import JobStatus, PollPolicy
from together_queue._polling import PollSchedule, PollState, Waiter
from together_queue.errors import (
    JobCanceled,
    JobFailed,
    NotFoundError,
    RateLimitError,
    ServerError,
    WaitTimeout,
)

NO_JITTER = PollPolicy(initial=0.2, multiplier=2.0, max_interval=1.0, jitter=0.0)


def _status(status: str = "running", **info: object) -> JobStatus:
    return JobStatus(request_id="r", model="m", status=status, info=info)


def test_backoff_starts_fast_and_stops_at_the_ceiling() -> None:
    state = PollState(NO_JITTER)
    delays = []
    for now in range(6):
        state.observe(_status("pending"), float(now))
        delays.append(state.next_delay(float(now)))
    assert delays == [0.2, 0.4, 0.8, 1.0, 1.0, 1.0]


def test_jitter_stays_within_its_fraction() -> None:
    policy = PollPolicy(initial=1.0, multiplier=1.0, max_interval=1.0, jitter=0.2)
    state = PollState(policy)
    delays = [state.next_delay(0.0) for _ in range(200)]
    assert all(0.8 <= d <= 1.2 for d in delays)
    assert max(delays) - min(delays) > 0.1


def test_progress_aims_the_next_poll_at_the_estimated_finish() -> None:
    # Backoff alone would poll every 0.1 s; the estimate says "in 1 s".
    policy = PollPolicy(initial=0.1, multiplier=1.0, max_interval=30.0, jitter=0.0)
    state = PollState(policy)
    state.observe(_status(progress=0.2), now=10.0)
    state.observe(_status(progress=0.2), now=11.0)
    # The step to 0.6 happened between 11 and 12: dated 11.5, so 0.4 in 1.5 s, and
    # the remaining 0.4 takes 1.5 s from 11.5, i.e. 1.0 s after now.
    state.observe(_status(progress=0.6), now=12.0)
    assert state.estimated_remaining(12.0) == pytest.approx(1.0)
    assert state.next_delay(12.0) == pytest.approx(1.0)


def test_progress_estimate_is_clamped_to_the_policy() -> None:
    policy = PollPolicy(initial=0.5, multiplier=1.0, max_interval=3.0, jitter=0.0)
    slow = PollState(policy)
    slow.observe(_status(progress=0.0), now=0.0)
    slow.observe(_status(progress=0.01), now=1.0)  # 100 s to go
    assert slow.next_delay(1.0) == 3.0
    due = PollState(policy)
    due.observe(_status(progress=0.0), now=0.0)
    due.observe(_status(progress=1.0), now=1.0)  # finishing now
    assert due.next_delay(1.0) == 0.5


def test_progress_estimate_restarts_when_progress_goes_back() -> None:
    state = PollState(PollPolicy(initial=0.1, jitter=0.0))
    state.observe(_status(progress=0.5), now=0.0)
    state.observe(_status(progress=0.9), now=1.0)
    assert state.estimated_remaining(1.0) is not None
    state.observe(_status(progress=0.1), now=2.0)  # a retry started over
    assert state.estimated_remaining(2.0) is None
    state.observe(_status("pending"), now=3.0)
    assert state.estimated_remaining(3.0) is None


def test_progress_estimate_is_ignored_when_disabled_or_absent() -> None:
    policy = PollPolicy(initial=0.1, multiplier=1.0, max_interval=0.5, jitter=0.0)
    off = PollState(PollPolicy(initial=0.5, multiplier=1.0, jitter=0.0, use_progress=False))
    off.observe(_status(progress=0.1), 0.0)
    off.observe(_status(progress=0.99), 1.0)
    assert off.next_delay(1.0) == 0.5
    plain = PollState(policy)
    plain.observe(_status(), 0.0)
    assert plain.next_delay(0.0) == 0.1


def test_observe_reports_changes_of_status_or_info_only() -> None:
    state = PollState(NO_JITTER)
    assert state.observe(_status("pending"), 0)
    assert not state.observe(_status("pending"), 1)
    assert state.observe(_status("running"), 2)
    assert state.observe(_status("running", progress=0.5), 3)
    assert not state.observe(_status("running", progress=0.5), 4)


def test_waiter_finishes_on_terminal_status_and_raises_on_failure() -> None:
    done = Waiter("job", NO_JITTER, deadline=None)
    assert done.feed(_status("pending"), 0.0) == 0.2
    assert done.feed(_status("done"), 0.2) is None
    assert done.final is not None
    assert done.final.status == "done"
    with pytest.raises(JobFailed):
        Waiter("job", NO_JITTER, None).feed(_status("failed"), 0.0)
    with pytest.raises(JobCanceled):
        Waiter("job", NO_JITTER, None).feed(_status("canceled"), 0.0)
    quiet = Waiter("job", NO_JITTER, None, raise_on_failure=False)
    assert quiet.feed(_status("failed"), 0.0) is None


def test_waiter_treats_unknown_status_as_unfinished() -> None:
    waiter = Waiter("job", NO_JITTER, deadline=None)
    assert waiter.feed(_status("paused"), 0.0) is not None
    assert waiter.final is None


def test_waiter_clamps_to_and_enforces_the_deadline() -> None:
    waiter = Waiter("job 7", NO_JITTER, deadline=10.0)
    assert waiter.feed(_status("pending"), 9.9) == pytest.approx(0.1)
    with pytest.raises(WaitTimeout, match="job 7") as info:
        waiter.feed(_status("running"), 10.0)
    assert info.value.last_status is not None
    assert info.value.last_status.status == "running"


def test_waiter_rides_out_transient_errors_up_to_the_limit() -> None:
    policy = PollPolicy(initial=0.1, multiplier=1.0, jitter=0.0, max_consecutive_errors=2)
    waiter = Waiter("job", policy, deadline=None)
    boom = ServerError(status_code=500, body="")
    assert waiter.feed(boom, 0.0) == 0.1
    limited = RateLimitError(status_code=429, body="", headers={"retry-after": "3"})
    assert waiter.feed(limited, 0.1) == 3.0
    with pytest.raises(ServerError):
        waiter.feed(boom, 0.2)


def test_waiter_raises_non_transient_errors_at_once() -> None:
    with pytest.raises(NotFoundError):
        Waiter("job", NO_JITTER, None).feed(NotFoundError(status_code=404, body=""), 0.0)


def test_schedule_pops_due_keys_in_time_order_within_a_limit() -> None:
    schedule: PollSchedule[str] = PollSchedule()
    for key, due in [("c", 3.0), ("a", 1.0), ("b", 2.0), ("a2", 1.0)]:
        schedule.add(key, due)
    assert schedule.next_due() == 1.0
    assert schedule.pop_due(now=2.5, limit=2) == ["a", "a2"]
    assert schedule.pop_due(now=2.5, limit=5) == ["b"]
    assert len(schedule) == 1
    assert schedule.pop_due(now=2.5, limit=5) == []


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        PollPolicy(initial=0)
    with pytest.raises(ValueError):
        PollPolicy(jitter=1.5)


@pytest.mark.parametrize(
    ("kwargs", "exc", "fragment"),
    [
        ({"initial": 1, "max_interval": 0.001}, ValueError, "max_interval must be >= initial"),
        ({"initial": 0}, ValueError, "initial"),
        ({"initial": float("nan")}, ValueError, "finite"),
        ({"max_interval": float("inf")}, ValueError, "finite"),
        ({"multiplier": 0.5}, ValueError, "multiplier"),
        ({"jitter": 1.0}, ValueError, "jitter"),
        ({"initial": "1"}, TypeError, "initial"),
        ({"initial": True}, TypeError, "initial"),
        ({"max_consecutive_errors": -1}, ValueError, "max_consecutive_errors"),
        ({"max_consecutive_errors": 1.5}, ValueError, "max_consecutive_errors"),
    ],
)
def test_poll_policy_rejects_what_would_misbehave(
    kwargs: dict[str, object], exc: type[Exception], fragment: str
) -> None:
    with pytest.raises(exc, match=fragment):
        PollPolicy(**kwargs)  # type: ignore[arg-type]


def test_waiters_share_one_jitter_source() -> None:
    # A Random per waiter cost ~2.5 KB of state each (31 MB for 10,000 waits).
    states = [PollState(PollPolicy()) for _ in range(3)]
    assert all(not hasattr(state, "_rng") for state in states)


def test_a_rate_limit_outlasting_the_deadline_ends_the_wait_at_once() -> None:
    from together_queue import RateLimitError

    waiter = Waiter(label="job r", policy=PollPolicy(initial=0.1), deadline=10.0)
    limited = RateLimitError(status_code=429, body="", headers={"retry-after": "30"})
    with pytest.raises(WaitTimeout) as info:
        waiter.feed(limited, now=1.0)
    assert info.value.__cause__ is limited


# -- aiming by the progress bound ---------------------------------------------------------

CLAIMED = 1_000_000.0  # the job's `claimed_at`, epoch seconds
AIM = PollPolicy(initial=0.1, multiplier=1.0, max_interval=30.0, jitter=0.0, aim=0.5)


def _claimed(progress: float) -> JobStatus:
    import datetime

    return JobStatus(
        request_id="r",
        model="m",
        status="running",
        info={"progress": progress},
        claimed_at=datetime.datetime.fromtimestamp(CLAIMED, datetime.UTC),
    )


def test_a_job_at_half_after_t_seconds_is_aimed_at_before_2t() -> None:
    # One look: 50% after 2 s ends by 4 s (even progress) and not before now: aim halfway.
    state = PollState(AIM)
    state.observe(_claimed(0.5), now=0.0, wall=CLAIMED + 2)
    assert state.next_delay(0.0, wall=CLAIMED + 2) == pytest.approx(1.0)


def test_the_bound_comes_from_when_the_progress_was_first_seen() -> None:
    # Still 50% at 3 s: it was reached by 2 s, so the end is still by 4 s, not 6 s.
    state = PollState(AIM)
    state.observe(_claimed(0.5), now=0.0, wall=CLAIMED + 2)
    state.observe(_claimed(0.5), now=1.0, wall=CLAIMED + 3)
    assert state.next_delay(1.0, wall=CLAIMED + 3) == pytest.approx(0.5)


def test_a_poll_that_saw_less_progress_sets_the_earliest_end() -> None:
    # 25% at 1 s, 50% at 3 s: 50% came after 1 s (end after 2 s) and by 3 s (end by 6 s);
    # not before now (3 s): aim halfway between 3 and 6.
    state = PollState(AIM)
    state.observe(_claimed(0.25), now=0.0, wall=CLAIMED + 1)
    state.observe(_claimed(0.5), now=2.0, wall=CLAIMED + 3)
    assert state.next_delay(2.0, wall=CLAIMED + 3) == pytest.approx(1.5)


def test_a_job_past_its_bound_goes_back_to_the_backoff() -> None:
    state = PollState(AIM)
    state.observe(_claimed(0.5), now=0.0, wall=CLAIMED + 2)
    state.observe(_claimed(0.5), now=3.0, wall=CLAIMED + 5)  # later than 4 s
    assert state.aimed_remaining(CLAIMED + 5) is None
    assert state.next_delay(3.0, wall=CLAIMED + 5) == pytest.approx(0.1)
