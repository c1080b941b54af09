"""Which calls may be retried, when, and how long to wait: the retry rules in one place.

Status, metrics and cancel are safe to repeat, so they are retried on connection
errors, timeouts, 429 and 5xx. A submit is not: sending it twice can create two
jobs. It is retried only when it certainly did not reach the service (the
connection was never made) or the service said so (429). Any other failure of a
submit raises `SubmitOutcomeUnknown`, unless the user opted in with
`retry_submits=True`.

Why not an httpx retry transport: transport-level retriers decide by HTTP method,
and both submit and cancel are POSTs with opposite answers. The decision needs
the operation, so it lives here, above the transport, shared by the sync and
async clients (`RetryState`), which only differ in how they sleep.
"""

from __future__ import annotations

import email.utils
import enum
import random
import time
from typing import Final

import attrs
import httpx

from together_queue.errors import (
    APIConnectionError,
    APITimeoutError,
    SubmitOutcomeUnknown,
    TogetherQueueError,
)

RETRYABLE_STATUS: Final = frozenset({429, 500, 502, 503, 504})
# Failures that happen before any byte of the request can have reached the server.
_NOT_SENT: Final = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_RNG: Final[random.Random] = random.Random()  # noqa: S311 - jitter, not secrets


class Operation(enum.Enum):
    """The four Queue operations, and whether each may be repeated safely."""

    SUBMIT = "submit"
    STATUS = "status"
    CANCEL = "cancel"
    METRICS = "metrics"

    @property
    def idempotent(self) -> bool:
        """True when sending the call twice has the same effect as once."""
        return self is not Operation.SUBMIT


@attrs.frozen
class RetryPolicy:
    """Exponential backoff with jitter, capped, honouring `Retry-After`."""

    max_retries: int = 2
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Delay before retry number `attempt` (0-based): half fixed, half random."""
        ceiling = min(self.max_delay, self.base_delay * (2.0**attempt))
        return ceiling / 2 + (rng or _RNG).uniform(0, ceiling / 2)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or HTTP-date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


@attrs.define
class RetryState:
    """The retry bookkeeping for one call: feed it each outcome, get a delay or an error."""

    operation: Operation
    policy: RetryPolicy
    retry_submits: bool
    method: str
    url: str
    model: str
    attempt: int = 0

    @property
    def _may_repeat(self) -> bool:
        return self.operation.idempotent or self.retry_submits

    def on_response(self, response: httpx.Response) -> float | None:
        """Delay before retrying after `response`, or None when it is final."""
        status = response.status_code
        if status not in RETRYABLE_STATUS or self.attempt >= self.policy.max_retries:
            return None
        if status != 429 and not self._may_repeat:
            return None
        return self._next_delay(parse_retry_after(response.headers.get("retry-after")))

    def on_exception(self, exc: httpx.HTTPError) -> float:
        """Delay before retrying after a transport error; raise the typed error when final."""
        certainly_not_sent = isinstance(exc, _NOT_SENT)
        retryable = certainly_not_sent or self._may_repeat
        if retryable and self.attempt < self.policy.max_retries:
            return self._next_delay(None)
        raise self.final_error(exc) from exc

    def final_error(self, exc: httpx.HTTPError) -> TogetherQueueError:
        """The typed error for a transport failure that will not be retried (the one seam)."""
        where = f"{self.method} {self.url}"
        if self.operation is Operation.SUBMIT and not isinstance(exc, _NOT_SENT):
            return SubmitOutcomeUnknown(
                f"submit to model {self.model!r} failed after the request may have reached "
                f"the service ({type(exc).__name__}: {exc}); the job may or may not exist. "
                "It was not resent to avoid a duplicate (pass retry_submits=True to allow it)",
                model=self.model,
            )
        if isinstance(exc, httpx.TimeoutException):
            return APITimeoutError(
                f"timed out: {where} ({type(exc).__name__})", method=self.method, url=self.url
            )
        return APIConnectionError(
            f"connection error: {where} ({type(exc).__name__}: {exc})",
            method=self.method,
            url=self.url,
        )

    def _next_delay(self, retry_after: float | None) -> float:
        delay = self.policy.backoff(self.attempt)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.policy.max_retry_after))
        self.attempt += 1
        return delay
