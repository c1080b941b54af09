"""The exception hierarchy: every error this package raises on purpose.

Grouped by what the caller can do about it:

- `ConfigurationError`: the client was set up wrong; fix the code or environment.
- `APIConnectionError`, `APITimeoutError`: the service could not be reached or
  did not answer in time; retried already where that is safe.
- `SubmitOutcomeUnknown`: a submit may or may not have created a job.
- `APIStatusError` and its per-status subclasses: the service answered with an
  error (`QueueError` fields, status code and raw body attached).
- `ResponseValidationError`: the service answered something the spec does not allow.
- `JobFailed`, `JobCanceled`, `WaitTimeout`: outcomes of waiting on a job.

Messages never contain the API key: they are built from status codes, URLs and
response bodies only.

The mapping to these errors is here too, and only here: `status_error` for an
error response (the client's calls and downloads alike), `transport_error` for a
transport failure, `retry_after` for the `Retry-After` header.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

import httpx

from together_queue import _lazy
from together_queue._logging import http_request_id

if TYPE_CHECKING:
    from together_queue._models import JobStatus
    from together_queue.jobs import AsyncJob, Job
    from together_queue_api.models import QueueError

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ConflictError",
    "InsecureTransportError",
    "JobCanceled",
    "JobFailed",
    "NotFoundError",
    "RateLimitError",
    "RequestTooLargeError",
    "ResponseValidationError",
    "ServerError",
    "SubmitOutcomeUnknown",
    "TogetherQueueError",
    "WaitTimeout",
]


class TogetherQueueError(Exception):
    """Base class of every error raised by together_queue."""


# -- configuration -------------------------------------------------------------


class ConfigurationError(TogetherQueueError, ValueError):
    """The client cannot be built from the given arguments and environment."""


class InsecureTransportError(ConfigurationError):
    """The API key would travel in clear text to a host off this machine."""


# -- transport -----------------------------------------------------------------


class APIConnectionError(TogetherQueueError):
    """The service could not be reached, or the connection broke mid-call."""

    def __init__(self, message: str, *, method: str = "", url: str = "") -> None:
        super().__init__(message)
        self.method = method
        self.url = url


class APITimeoutError(APIConnectionError):
    """The service did not answer within the configured timeout."""


class SubmitOutcomeUnknown(TogetherQueueError):
    """A submit failed after the request may have reached the service.

    Raised for a transport error after sending, a 5xx, or a 2xx whose body could not
    be read. The job may or may not exist. It was not resent, because a second
    submit could create a duplicate; pass `retry_submits=True` to the client to
    accept that risk. The underlying error is `__cause__`.
    """

    def __init__(self, message: str, *, model: str) -> None:
        super().__init__(message)
        self.model = model


# -- error responses -------------------------------------------------------------


class APIStatusError(TogetherQueueError):
    """The service answered with an error status.

    `code`, `message`, `param` and `type` are the `QueueError` fields (None when
    the body did not carry them); `body` is the raw response text.
    """

    def __init__(
        self,
        *,
        status_code: int,
        body: str,
        code: str | None = None,
        message: str | None = None,
        param: str | None = None,
        type: str | None = None,
        headers: dict[str, str] | None = None,
        method: str = "",
        url: str = "",
    ) -> None:
        self.status_code = status_code
        self.body = body
        self.code = code
        self.message = message
        self.param = param
        self.type = type
        self.headers = headers or {}
        self.method = method
        self.url = url
        self._hint: str | None = None
        super().__init__(self._describe())

    @property
    def http_request_id(self) -> str | None:
        """The server's id for the failed exchange (`x-request-id`), if it sent one.

        Quote it to the service's support. It names one HTTP exchange, not a job: a
        job's id is its `request_id`.
        """
        return http_request_id(self.headers)

    @property
    def hint(self) -> str | None:
        """What the caller can check, when the client can tell (e.g. a wrong base URL)."""
        return self._hint

    @hint.setter
    def hint(self, value: str | None) -> None:
        self._hint = value
        self.args = (self._describe(),)

    def _describe(self) -> str:
        where = f" for {self.method} {self.url}" if self.url else ""
        text = self.message or _excerpt(self.body) or "no details"
        parts = [f"HTTP {self.status_code}{where}: {text}"]
        if self.param:
            parts.append(f"param={self.param!r}")
        if self.code:
            parts.append(f"code={self.code!r}")
        exchange = self.http_request_id
        if exchange:
            parts.append(f"http_request_id={exchange}")
        if self._hint:
            parts.append(f"({self._hint})")
        return " ".join(parts)


class BadRequestError(APIStatusError):
    """400: the service rejected the request; `param` names the field."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing or wrong."""


class NotFoundError(APIStatusError):
    """404: no such job for that model."""


class ConflictError(APIStatusError):
    """409: the job is not in a state that allows the operation."""


class RequestTooLargeError(APIStatusError):
    """413: the request body is over the service's limit."""


class RateLimitError(APIStatusError):
    """429: too many requests; `retry_after` is the advised wait in seconds, if sent.

    Raised once retries are used up, or at once when the advised wait is longer than
    the time left before the call's deadline (or than `RetryPolicy.max_retry_after`).
    """

    @property
    def retry_after(self) -> float | None:
        """Seconds the service asked the caller to wait, from `Retry-After`."""
        return retry_after(self.headers)


class ServerError(APIStatusError):
    """5xx: the service failed to handle the request."""


class ResponseValidationError(TogetherQueueError):
    """The service answered with a body the spec does not allow (not JSON, or wrong shape)."""

    def __init__(self, message: str, *, status_code: int, body: str) -> None:
        super().__init__(f"{message} (HTTP {status_code}): {_excerpt(body) or 'empty body'}")
        self.status_code = status_code
        self.body = body


# -- job outcomes ----------------------------------------------------------------


class JobFailed(TogetherQueueError):
    """The job ended without outputs; `status` is its final `JobStatus`."""

    def __init__(self, status: JobStatus) -> None:
        self.status = status
        detail = f": {status.error}" if status.error else ""
        super().__init__(f"job {status.request_id} ({status.model}) {status.status}{detail}")


class JobCanceled(JobFailed):
    """The job was canceled before it ran."""


class WaitTimeout(TogetherQueueError, TimeoutError):
    """The job did not finish before the deadline.

    `last_status` is the last status seen; `job` is the handle waited on (None when
    the wait was not on one handle), so that the caller can wait again or cancel it.
    """

    def __init__(
        self, message: str, *, last_status: JobStatus | None, job: Job | AsyncJob | None = None
    ) -> None:
        super().__init__(message)
        self.last_status = last_status
        self.job = job


_STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    404: NotFoundError,
    409: ConflictError,
    413: RequestTooLargeError,
    429: RateLimitError,
}


def status_error_class(status_code: int) -> type[APIStatusError]:
    """The `APIStatusError` subclass for an HTTP status code."""
    if status_code >= 500:
        return ServerError
    return _STATUS_ERRORS.get(status_code, APIStatusError)


# -- the mapping ---------------------------------------------------------------------

# What a generated `from_dict` raises on a body of the wrong shape.
SHAPE_ERRORS = (KeyError, TypeError, ValueError, AttributeError)


def public_url(url: httpx.URL) -> str:
    """`url` as an error or log line may show it: no query (a signature), no `user:pw@`."""
    return str(url.copy_with(query=None, userinfo=b""))


def status_error(response: httpx.Response) -> APIStatusError:
    """The typed error for an error response: its class by status, its `QueueError` fields.

    A body that is not a `QueueError` leaves the fields None; the raw body is kept
    either way. The URL in the error is `public_url`'s.
    """
    error: QueueError | None = None
    try:
        data = json.loads(response.content)
        if isinstance(data, dict):
            error = _lazy.api_models.QueueError.from_dict(data)
    except SHAPE_ERRORS:  # json's errors are ValueErrors
        error = None
    return queue_error(response, error)


def queue_error(response: httpx.Response, error: QueueError | None) -> APIStatusError:
    """The typed error for `response`, which carries the parsed `QueueError` `error`."""

    def text(value: object) -> str | None:
        return value if isinstance(value, str) else None

    request = response.request
    return status_error_class(response.status_code)(
        status_code=response.status_code,
        body=response.text,
        code=None if error is None else text(error.code),
        message=None if error is None else text(error.message),
        param=None if error is None else text(error.param),
        type=None if error is None else text(error.type_),
        headers={k.lower(): v for k, v in response.headers.items()},
        method=request.method,
        url=public_url(request.url),
    )


def transport_error(exc: httpx.HTTPError, method: str, url: str) -> APIConnectionError:
    """The typed error for a transport failure of `method url` (timeouts apart)."""
    where = f"{method} {url}"
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"timed out: {where} ({type(exc).__name__})", method=method, url=url)
    return APIConnectionError(
        f"connection error: {where} ({type(exc).__name__}: {exc})", method=method, url=url
    )


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from the `Retry-After` header of `headers`; None if absent or unreadable."""
    return parse_retry_after(headers.get("retry-after"))


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a `Retry-After` value (delta-seconds or HTTP-date); None if absent/bad."""
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


def _excerpt(text: str, limit: int = 300) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + "..."
