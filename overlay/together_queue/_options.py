"""Per-call request options (`extra_headers`, `extra_query`, `extra_body`, `timeout`), no I/O.

Every method that sends takes them as keyword arguments; `request_options` checks them
once, before anything is sent, and `RequestOptions.apply` merges them into each
attempt's request. The API key travels only through `api_key` (and only to the API's
own origin): an `Authorization` header here, or in a client's `default_headers`, is a
`ValueError`. Extra fields and query parameters add to what the call sends; they never
replace what the call itself sets (a job's `model`, its `request_id`, the payload).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, NamedTuple

import httpx

from together_queue._config import TimeoutTypes, to_timeout

__all__ = [
    "NOT_GIVEN",
    "NotGiven",
    "RequestOptions",
    "check_headers",
    "request_options",
]

# Headers a caller may not set: the key goes only through `api_key`, and the framing
# headers are httpx's to write from the body it sends.
_REFUSED_HEADERS: Final = {
    "authorization": "the API key goes only through api_key=... (sent only to the API's origin)",
    "proxy-authorization": "proxy credentials belong in the http client's proxy settings",
    "host": "the host comes from base_url",
    "content-length": "httpx writes it from the body",
    "transfer-encoding": "httpx writes it from the body",
}
_QUERY_TYPES: Final = (str, int, float, bool)


class NotGiven:
    """Marks an argument the caller left out (None means "no timeout")."""

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __bool__(self) -> bool:
        return False


NOT_GIVEN: Final = NotGiven()


# A NamedTuple, not an attrs class, as `_config.ClientConfig`: this module loads with
# `from together_queue import QueueClient`, which loads no attrs.
class RequestOptions(NamedTuple):
    """What one call adds to each of its requests, already checked.

    `timeout` replaces the client's timeout for each attempt of this call (a deadline,
    such as `wait(timeout=...)`, still cuts it); None keeps the client's.
    """

    headers: Mapping[str, str] = {}
    query: Mapping[str, Any] = {}
    body: Mapping[str, Any] = {}
    timeout: httpx.Timeout | None = None

    def apply(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """`httpx.Client.request` arguments with these options merged in (a new dict).

        Raises `ValueError` when an extra query parameter or body field would replace
        one the call sets itself.
        """
        merged = dict(kwargs)
        if self.headers:
            merged["headers"] = {**merged.get("headers", {}), **self.headers}
        if self.query:
            params = dict(merged.get("params") or {})
            _refuse_overlap(params, self.query, "extra_query", "query parameter")
            merged["params"] = {**params, **self.query}
        if self.body:
            body = merged.get("json")
            if not isinstance(body, dict):
                raise ValueError("extra_body: this call sends no JSON body to add fields to")
            _refuse_overlap(body, self.body, "extra_body", "field")
            merged["json"] = {**body, **self.body}
        return merged


def request_options(
    *,
    extra_headers: Mapping[str, str] | None = None,
    extra_query: Mapping[str, Any] | None = None,
    extra_body: Mapping[str, Any] | None = None,
    timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
) -> RequestOptions | None:
    """Check a call's options before anything is sent; None when it has none.

    Raises `ValueError` naming the bad argument (an `Authorization` header, a value of
    the wrong type) and `TypeError` for an argument that is not a mapping.
    """
    if not extra_headers and not extra_query and not extra_body and isinstance(timeout, NotGiven):
        return None
    return RequestOptions(
        headers=check_headers(extra_headers, "extra_headers"),
        query=_check_query(extra_query),
        body=_check_body(extra_body),
        timeout=None if isinstance(timeout, NotGiven) else to_timeout(timeout),
    )


def check_headers(headers: Mapping[str, str] | None, argument: str) -> dict[str, str]:
    """`headers` as a plain dict of strings; `ValueError` for a header no caller may set."""
    if headers is None:
        return {}
    _mapping(headers, argument)
    checked: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{argument}: a header name must be a non-empty string, got {name!r}")
        reason = _REFUSED_HEADERS.get(name.strip().lower())
        if reason is not None:
            # The value is not shown: it may be a key.
            raise ValueError(f"{argument} must not set {name!r}: {reason}")
        if not isinstance(value, str):
            raise ValueError(f"{argument}[{name!r}] must be a string, got {type(value).__name__}")
        if "\r" in value or "\n" in value:
            raise ValueError(f"{argument}[{name!r}] must not contain a line break")
        checked[name] = value
    return checked


def _check_query(query: Mapping[str, Any] | None) -> dict[str, Any]:
    if query is None:
        return {}
    _mapping(query, "extra_query")
    for name, value in query.items():
        if not isinstance(name, str) or not name:
            raise ValueError(
                f"extra_query: a parameter name must be a non-empty string, got {name!r}"
            )
        values = value if isinstance(value, list | tuple) else [value]
        if not all(isinstance(v, _QUERY_TYPES) for v in values):
            raise ValueError(
                f"extra_query[{name!r}] must be a string, number or bool (or a list of them), "
                f"got {type(value).__name__}"
            )
    return dict(query)


def _check_body(body: Mapping[str, Any] | None) -> dict[str, Any]:
    if body is None:
        return {}
    from together_queue import _validate  # with the first call that has a body

    return dict(_validate.json_object(body, "extra_body"))


def _mapping(value: object, argument: str) -> None:
    if not isinstance(value, Mapping):
        raise TypeError(f"{argument} must be a mapping, got {type(value).__name__}")


def _refuse_overlap(
    sent: Mapping[str, Any], extra: Mapping[str, Any], argument: str, what: str
) -> None:
    overlap = sorted(set(sent) & set(extra))
    if overlap:
        raise ValueError(
            f"{argument} must not replace the {what}s the call sets itself: "
            + ", ".join(repr(k) for k in overlap)
            + " (pass them as the method's own arguments)"
        )
