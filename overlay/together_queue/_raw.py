"""`RawResponse`: what `client.with_raw_response.<method>(...)` returns (no I/O).

The HTTP side of a call that succeeded (status, headers, the server's id for the
exchange, how long it took, how many retries it needed) with the same typed value
the plain call returns, from `parse()`. A call that fails raises as the plain call does.
"""

from __future__ import annotations

import datetime as dt
from typing import Generic, TypeVar

import httpx

from together_queue._logging import http_request_id

__all__ = ["RawResponse"]

T = TypeVar("T")


class RawResponse(Generic[T]):
    """The final HTTP response of a call, and the value it parsed to.

    Attributes:
        status_code: The HTTP status of the final attempt.
        headers: Its headers (case-insensitive), e.g. rate-limit headroom.
        http_request_id: The server's id for that exchange (`x-request-id`), if sent;
            not a job's `request_id`.
        elapsed: How long the final attempt took, from sending to the end of the body.
        retries_taken: How many attempts before it failed and were retried (0 for a
            first-time success).
        method: The HTTP method sent.
        url: The URL requested, query included.

    """

    __slots__ = (
        "_value",
        "elapsed",
        "headers",
        "http_request_id",
        "method",
        "retries_taken",
        "status_code",
        "url",
    )

    def __init__(self, response: httpx.Response, value: T, *, retries_taken: int) -> None:
        """Wrap the final `response` of a call and the `value` it parsed to."""
        self.status_code: int = response.status_code
        self.headers: httpx.Headers = response.headers
        self.http_request_id: str | None = http_request_id(response.headers)
        self.elapsed: dt.timedelta = response.elapsed
        self.retries_taken = retries_taken
        self.method: str = response.request.method
        self.url: str = str(response.request.url)
        self._value = value

    def parse(self) -> T:
        """The typed value of the call: what the same call without `with_raw_response` returns."""
        return self._value

    def __repr__(self) -> str:
        return (
            f"RawResponse(status_code={self.status_code}, method={self.method!r}, "
            f"url={self.url!r}, http_request_id={self.http_request_id!r}, "
            f"retries_taken={self.retries_taken})"
        )
