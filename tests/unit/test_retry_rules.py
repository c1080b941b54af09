"""The retry rules as a table: which failure of which operation is retried."""

from __future__ import annotations

import email.utils
import random

import httpx
import pytest

from together_queue._retry import (
    Operation,
    RetryPolicy,
    RetryState,
    submit_fate_unknown,
)
from together_queue.errors import (
    APIConnectionError,
    APITimeoutError,
    ResponseValidationError,
    SubmitOutcomeUnknown,
    parse_retry_after,
    status_error_class,
)

REQUEST = httpx.Request("POST", "http://127.0.0.1/v1/queue/submit")


def _state(op: Operation, *, retry_submits: bool = False, max_retries: int = 2) -> RetryState:
    return RetryState(op, RetryPolicy(max_retries=max_retries), retry_submits, "POST", "u", "m")


def _response(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers, request=REQUEST)


@pytest.mark.parametrize(
    ("op", "status", "retried"),
    [
        (Operation.SUBMIT, 429, True),
        (Operation.SUBMIT, 500, False),
        (Operation.SUBMIT, 503, False),
        (Operation.SUBMIT, 400, False),
        (Operation.STATUS, 429, True),
        (Operation.STATUS, 500, True),
        (Operation.STATUS, 502, True),
        (Operation.STATUS, 404, False),
        (Operation.CANCEL, 503, True),
        (Operation.CANCEL, 409, False),
        (Operation.METRICS, 504, True),
        (Operation.METRICS, 200, False),
    ],
)
def test_status_codes(op: Operation, status: int, retried: bool) -> None:
    assert (_state(op).on_response(_response(status)) is not None) is retried


@pytest.mark.parametrize(
    ("exc", "retried", "final"),
    [
        (httpx.ConnectError("refused"), True, APIConnectionError),
        (httpx.ConnectTimeout("slow connect"), True, APITimeoutError),
        (httpx.PoolTimeout("pool"), True, APITimeoutError),
        (httpx.ReadTimeout("slow read"), False, SubmitOutcomeUnknown),
        (httpx.WriteTimeout("slow write"), False, SubmitOutcomeUnknown),
        (httpx.RemoteProtocolError("cut"), False, SubmitOutcomeUnknown),
        (httpx.ReadError("reset"), False, SubmitOutcomeUnknown),
    ],
)
def test_submit_transport_errors(exc: httpx.HTTPError, retried: bool, final: type) -> None:
    state = _state(Operation.SUBMIT)
    if retried:
        assert state.on_exception(exc) > 0
    else:
        with pytest.raises(final):
            state.on_exception(exc)
    with pytest.raises(final):
        _state(Operation.SUBMIT, max_retries=0).on_exception(exc)


@pytest.mark.parametrize(
    "exc", [httpx.ReadTimeout("t"), httpx.RemoteProtocolError("cut"), httpx.ConnectError("c")]
)
def test_safe_operations_retry_every_transport_error(exc: httpx.HTTPError) -> None:
    for op in (Operation.STATUS, Operation.CANCEL, Operation.METRICS):
        assert _state(op).on_exception(exc) > 0


def test_opt_in_makes_submit_retry_like_the_others() -> None:
    state = _state(Operation.SUBMIT, retry_submits=True)
    assert state.on_response(_response(500)) is not None
    assert state.on_exception(httpx.ReadTimeout("t")) > 0


def test_attempts_are_bounded() -> None:
    state = _state(Operation.STATUS, max_retries=2)
    assert state.on_response(_response(500)) is not None
    assert state.on_response(_response(500)) is not None
    assert state.on_response(_response(500)) is None
    with pytest.raises(APIConnectionError):
        state.on_exception(httpx.ConnectError("x"))


def test_retry_after_is_honoured_never_shortened() -> None:
    policy = RetryPolicy(max_retries=5, base_delay=0.1, max_delay=0.2, max_retry_after=30)
    state = RetryState(Operation.STATUS, policy, False, "GET", "u", "m")
    assert state.on_response(_response(429, **{"Retry-After": "3"})) == 3.0
    # Longer than the client sleeps on its own: final (RateLimitError), not cut to 30 s.
    assert state.on_response(_response(503, **{"Retry-After": "3600"})) is None
    assert state.attempt == 1


def test_no_retry_that_cannot_start_before_the_deadline() -> None:
    state = _state(Operation.STATUS)
    assert state.on_response(_response(429, **{"Retry-After": "5"}), remaining=1.0) is None
    assert state.on_response(_response(429, **{"Retry-After": "0.5"}), remaining=1.0) == 0.5
    with pytest.raises(APIConnectionError):
        state.on_exception(httpx.ConnectError("x"), remaining=0.001)


@pytest.mark.parametrize(
    ("error", "unknown"),
    [
        (httpx.ReadTimeout("t"), True),
        (httpx.RemoteProtocolError("cut"), True),
        (httpx.ConnectError("refused"), False),
        (httpx.LocalProtocolError("bad header"), False),
        (httpx.UnsupportedProtocol("ftp"), False),
    ],
)
def test_submit_fate_of_transport_errors(error: httpx.HTTPError, unknown: bool) -> None:
    assert submit_fate_unknown(error) is unknown


@pytest.mark.parametrize(
    ("status", "unreadable_unknown", "error_unknown"),
    [
        (200, True, False),  # a 200 carrying a QueueError is a refusal
        (202, True, True),
        (500, True, True),
        (503, True, True),
        (400, False, False),
        (404, False, False),
        (429, False, False),
        (302, False, False),
    ],
)
def test_submit_fate_of_answers(status: int, unreadable_unknown: bool, error_unknown: bool) -> None:
    unreadable = ResponseValidationError("bad", status_code=status, body="<html>")
    refused = status_error_class(status)(status_code=status, body="")
    assert submit_fate_unknown(unreadable) is unreadable_unknown
    assert submit_fate_unknown(refused) is error_unknown


def test_not_sent_errors_are_not_retried_nor_unknown() -> None:
    state = _state(Operation.SUBMIT)
    with pytest.raises(APIConnectionError) as caught:
        state.on_exception(httpx.LocalProtocolError("illegal header"))
    assert not isinstance(caught.value, SubmitOutcomeUnknown)
    assert state.attempt == 0


def test_backoff_grows_exponentially_with_bounded_jitter() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=8.0)
    rng = random.Random(7)
    for attempt, ceiling in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)]:
        delays = [policy.backoff(attempt, rng) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jittered


def test_parse_retry_after() -> None:
    assert parse_retry_after("5") == 5.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
    date = email.utils.formatdate(1_000_060, usegmt=True)
    assert parse_retry_after(date, now=1_000_000) == 60.0
