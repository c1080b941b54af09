"""Which calls may be retried, when, and how long to wait: the retry rules in one place.

Status, metrics and cancel are safe to repeat, so they are retried on connection
errors, timeouts, 429 and 5xx. A submit is not: sending it twice can create two
jobs. It is retried only when it certainly did not reach the service (the
connection was never made) or the service said so (429). Any other failure of a
submit raises `SubmitOutcomeUnknown` (decided in `submit_fate_unknown`, nowhere
else), and is resent only if the user opted in with `retry_submits=True`.

One deadline runs through a call: each attempt's timeout and each sleep between
attempts fit in the time the caller has left, so `wait(timeout=1)` returns in about
a second whatever the network does.

Why not an httpx retry transport: transport-level retriers decide by HTTP method,
and both submit and cancel are POSTs with opposite answers. The decision needs
the operation, so it lives here, above the transport, shared by the sync and
async clients (`RetryState`), which only differ in how they sleep.
"""

from __future__ import annotations

import enum
import random
import time
from typing import Final, NamedTuple, Protocol

import httpx

from together_queue.errors import (
    APIStatusError,
    APITimeoutError,
    ResponseValidationError,
    SubmitOutcomeUnknown,
    TogetherQueueError,
    retry_after,
    transport_error,
)

RETRYABLE_STATUS: Final = frozenset({429, 500, 502, 503, 504})
# Failures raised before any byte of the request left this machine: the service cannot
# have acted on the request.
NOT_SENT: Final = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.LocalProtocolError,
    httpx.UnsupportedProtocol,
)
# Of those, the ones worth trying again (the others would fail the same way).
_TRANSIENT_NOT_SENT: Final = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_RNG: Final[random.Random] = random.Random()  # noqa: S311 - jitter, not secrets


class Operation(enum.Enum):
    """The Queue operations, and whether each may be repeated safely."""

    SUBMIT = "submit"
    STATUS = "status"
    CANCEL = "cancel"
    METRICS = "metrics"
    CLEAR = "clear"

    @property
    def idempotent(self) -> bool:
        """True when sending the call twice is the same as once: same effect, same answer.

        Not SUBMIT (a second job) and not CLEAR: clearing twice has the effect of
        clearing once, but a repeat after an attempt that may have acted answers with
        the jobs *it* canceled, not the caller's count. So a clear is retried only when
        the service certainly did not act (connection never made, or 429), like a
        submit, and otherwise raises; calling it again is then safe.
        """
        return self not in (Operation.SUBMIT, Operation.CLEAR)


class SendObserver(Protocol):
    """Told by the clients' send loop what the service said about load (for bulk helpers)."""

    def on_rate_limited(self, retry_after: float | None) -> None:
        """The service answered 429; `retry_after` is its advised wait, if it sent one."""

    def on_success(self) -> None:
        """The service answered 2xx."""


# NamedTuple and a plain class, not attrs: this module is on the import path of
# `from together_queue import QueueClient`, whose startup budget attrs alone would eat.
class RetryPolicy(NamedTuple):
    """Exponential backoff with jitter, capped, honouring `Retry-After`.

    A `Retry-After` is never shortened. One longer than `max_retry_after` seconds, or
    than the time left before the caller's deadline, is not slept through: the call
    raises `RateLimitError` at once, its `retry_after` telling the caller how long.
    """

    max_retries: int = 2
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Delay before retry number `attempt` (0-based): half fixed, half random."""
        ceiling = min(self.max_delay, self.base_delay * (2.0**attempt))
        return ceiling / 2 + (rng or _RNG).uniform(0, ceiling / 2)


def submit_fate_unknown(error: BaseException) -> bool:
    """Whether a submit that failed with `error` may still have created a job.

    The one place that decides it. Unknown: the request may have reached the service
    and no readable answer came back (a transport error after sending, a 5xx, or a
    2xx whose body could not be read). Known not created: nothing was sent, or the
    service refused it (4xx, 429 included).
    """
    if isinstance(error, httpx.HTTPError):
        return not isinstance(error, NOT_SENT)
    if isinstance(error, ResponseValidationError):
        return 200 <= error.status_code < 300 or error.status_code >= 500
    if isinstance(error, APIStatusError):
        # A 200 that carries a QueueError is the service saying no; any other 2xx
        # (202 Accepted, say) is not an answer this client can read.
        return 200 < error.status_code < 300 or error.status_code >= 500
    return False


def remaining_seconds(deadline: float | None) -> float | None:
    """Seconds left before `deadline` (a `time.monotonic()` value); None without one."""
    return None if deadline is None else deadline - time.monotonic()


class RetryState:
    """The retry bookkeeping for one call: feed it each outcome, get a delay or an error."""

    __slots__ = ("attempt", "method", "model", "operation", "policy", "retry_submits", "url")

    def __init__(
        self,
        operation: Operation,
        policy: RetryPolicy,
        retry_submits: bool,
        method: str,
        url: str,
        model: str,
        attempt: int = 0,
    ) -> None:
        self.operation = operation
        self.policy = policy
        self.retry_submits = retry_submits
        self.method = method
        self.url = url
        self.model = model
        self.attempt = attempt

    def __repr__(self) -> str:
        return (
            f"RetryState(operation={self.operation}, attempt={self.attempt}, "
            f"method={self.method!r}, url={self.url!r})"
        )

    @property
    def _may_repeat(self) -> bool:
        # retry_submits opts submits in; a clear's count is never traded for a retry.
        return self.operation.idempotent or (
            self.retry_submits and self.operation is Operation.SUBMIT
        )

    def on_response(self, response: httpx.Response, remaining: float | None = None) -> float | None:
        """Delay before retrying after `response`, or None when it is final.

        `remaining` is the time left before the caller's deadline: a retry that could
        not start before it is not scheduled.
        """
        status = response.status_code
        if status not in RETRYABLE_STATUS or self.attempt >= self.policy.max_retries:
            return None
        if status != 429 and not self._may_repeat:
            return None
        return self._next_delay(retry_after(response.headers), remaining)

    def on_exception(self, exc: httpx.HTTPError, remaining: float | None = None) -> float:
        """Delay before retrying after a transport error; raise the typed error when final."""
        retryable = isinstance(exc, _TRANSIENT_NOT_SENT) or (
            self._may_repeat and not isinstance(exc, NOT_SENT)
        )
        if retryable and self.attempt < self.policy.max_retries:
            delay = self._next_delay(None, remaining)
            if delay is not None:
                return delay
        raise self.error_to_raise(exc) from exc

    def error_to_raise(self, error: BaseException) -> BaseException:
        """The error to raise for a call that failed for good with `error`.

        Transport errors become `APIConnectionError`/`APITimeoutError`; for a submit,
        every failure after which the job may exist becomes `SubmitOutcomeUnknown`
        (see `submit_fate_unknown`), with `error` as its cause.
        """
        if self.operation is Operation.SUBMIT and submit_fate_unknown(error):
            return self._outcome_unknown(error)
        if isinstance(error, httpx.HTTPError):
            return self._transport_error(error)
        return error

    def _outcome_unknown(self, error: BaseException) -> SubmitOutcomeUnknown:
        if isinstance(error, APIStatusError | ResponseValidationError):
            what = f"HTTP {error.status_code} with " + (
                "an error" if isinstance(error, APIStatusError) else "an unreadable body"
            )
        else:
            what = f"{type(error).__name__}: {error}"
        unknown = SubmitOutcomeUnknown(
            f"submit to model {self.model!r} failed after the request may have reached the "
            f"service ({what}); the job may or may not exist. It was not resent, to avoid "
            "creating a duplicate",
            model=self.model,
        )
        unknown.__cause__ = error
        if not self.retry_submits:
            unknown.add_note("Pass retry_submits=True to the client to resend in such cases.")
        return unknown

    def _transport_error(self, exc: httpx.HTTPError) -> TogetherQueueError:
        return transport_error(exc, self.method, self.url)

    def out_of_time(self) -> APITimeoutError:
        """The error for a call whose deadline passed before it could be (re)sent."""
        return APITimeoutError(
            f"no time left before the deadline: {self.method} {self.url}",
            method=self.method,
            url=self.url,
        )

    def _next_delay(self, retry_after: float | None, remaining: float | None) -> float | None:
        delay = self.policy.backoff(self.attempt)
        if retry_after is not None:
            if retry_after > self.policy.max_retry_after:
                return None  # longer than we wait on our own: the caller decides
            delay = max(delay, retry_after)
        if remaining is not None and delay >= remaining:
            return None  # the retry could not start before the deadline
        self.attempt += 1
        return delay


def cap_timeout(timeout: httpx.Timeout, remaining: float | None) -> httpx.Timeout:
    """`timeout` with every phase cut to `remaining` seconds (unchanged without a deadline)."""
    if remaining is None:
        return timeout

    def cut(value: float | None) -> float:
        return remaining if value is None else min(value, remaining)

    return httpx.Timeout(
        connect=cut(timeout.connect),
        read=cut(timeout.read),
        write=cut(timeout.write),
        pool=cut(timeout.pool),
    )
