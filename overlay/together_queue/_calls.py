"""The five operations as I/O-free calls, built and parsed through the generated code.

A `Call` holds everything needed to send one request and turn its response
into a value or a typed error. The sync and async clients only differ in how
they send it; nothing here does I/O. Each builder checks its arguments first
(`_validate`: a typed error naming the bad one, before anything is sent).

The generated models load one by one as they are used (the generated `models`
package is lazy); each operation's generated module loads with its first call,
through `_lazy`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

import attrs
import httpx

from together_queue import _lazy, _validate
from together_queue._base_client import JSON_CONTENT_TYPE
from together_queue._models import (
    KNOWN_CANCEL_STATUSES,
    KNOWN_STATUSES,
    CancelResult,
    ClearResult,
    InvalidField,
    JobStatus,
    QueueMetrics,
)
from together_queue._retry import Operation
from together_queue.errors import (
    SHAPE_ERRORS,
    APIStatusError,
    ResponseValidationError,
    public_url,
    queue_error,
    status_error,
)
from together_queue.jobs import JobRequest
from together_queue_api import models as api
from together_queue_api.types import UNSET, Unset

T = TypeVar("T")


@attrs.frozen
class Call(Generic[T]):
    """One request, ready to send, with the function that interprets its response."""

    operation: Operation
    model: str
    method: str
    path: str
    kwargs: dict[str, Any]
    parse: Callable[[httpx.Response], T]
    #: `kwargs["json"]` already encoded (checked while encoding): sent as it is on the plain path.
    content: bytes | None = None

    def request_kwargs(self, base_url: str, headers: Mapping[str, str]) -> dict[str, Any]:
        """Arguments for `httpx.Client.request`, with the absolute URL and extra headers."""
        kwargs = dict(self.kwargs)
        kwargs["method"] = self.method
        kwargs["url"] = base_url + self.path
        kwargs["headers"] = {**kwargs.get("headers", {}), **headers}
        return kwargs

    def plain_url(self, base_url: str) -> str:
        """The call's absolute URL with its query, for `plain_request_kwargs`.

        The query goes into the URL, which httpx then parses once: given `params=`, it
        parses the URL a second time to add them (about 15 us a call on loopback).
        """
        url = base_url + self.path
        params = self.kwargs.get("params")
        if params:
            # The very string `httpx.URL(url, params=params)` would put after the "?".
            url += "?" + str(httpx.QueryParams(params))
        return url

    def plain_request_kwargs(
        self,
        url: httpx.URL,
        headers: Mapping[str, str],
        prepared: httpx.Headers,
        prepared_json: httpx.Headers,
    ) -> dict[str, Any]:
        """`request_kwargs` for a call without per-call options, cheaper for httpx to build.

        `url` is `plain_url(...)` parsed. `prepared` is `headers` already as
        `httpx.Headers`, shared by every call that sends no headers of its own (httpx
        copies it and never changes it); `prepared_json` adds the JSON content type, for
        a call whose body is already encoded (`content`), which then goes as it is.
        """
        kwargs = dict(self.kwargs)
        kwargs.pop("params", None)
        kwargs["method"] = self.method
        kwargs["url"] = url
        own = kwargs.get("headers")
        if self.content is not None and own == JSON_CONTENT_TYPE:
            del kwargs["json"]
            kwargs["content"] = self.content
            kwargs["headers"] = prepared_json
            return kwargs
        kwargs["headers"] = {**own, **headers} if own else prepared
        return kwargs


def _request_of(
    build_kwargs: Callable[..., dict[str, Any]], **arguments: Any
) -> tuple[str, str, dict[str, Any]]:
    """(method, path, httpx kwargs) of one generated operation, built by the generated code.

    The generated modules build each request in their private `_get_kwargs`; their
    public `sync`/`asyncio` functions would also send it, through the generated
    `Client`, which cannot carry our auth, retries, deadlines or a caller's own httpx
    client. So the overlay calls `_get_kwargs`, here and nowhere else: a generator
    release that renames it breaks this one function, and tests/contract catches it.
    """
    kwargs = dict(build_kwargs(**arguments))
    method = str(kwargs.pop("method")).upper()
    path = str(kwargs.pop("url"))
    return method, path, kwargs


def submit_call(
    model: str,
    payload: Mapping[str, Any],
    priority: int,
    info: Mapping[str, Any] | None,
) -> Call[str]:
    """POST /queue/submit; the parsed value is the new request id."""
    model = _validate.model_name(model)
    payload = _validate.json_mapping(payload, "payload")
    priority = _validate.priority(priority)
    info = None if info is None else _validate.json_mapping(info, "info")
    body = api.QueueJobRequest(
        model=model,
        payload=api.QueueJobRequestPayload.from_dict(payload),
        priority=priority,
        info=api.QueueJobRequestInfo.from_dict(info) if info is not None else UNSET,
    )
    method, path, kwargs = _request_of(_lazy.submit_queue_job._get_kwargs, body=body)
    content = _encoded_body(kwargs, (("payload", payload), ("info", info)))

    def parse(response: httpx.Response) -> str:
        # A 5xx or an unreadable 2xx raises its typed error here; the send loop turns it
        # into SubmitOutcomeUnknown (`_retry.submit_fate_unknown` decides, in one place).
        data = _expect_success(response, route_hint=True)
        parsed = _shape(api.QueueJobResponse.from_dict, data, response)
        if isinstance(parsed.request_id, str) and parsed.request_id:
            return parsed.request_id
        if not isinstance(parsed.error, Unset):
            raise queue_error(response, parsed.error)
        raise ResponseValidationError(
            "submit answered without a requestId",
            status_code=response.status_code,
            body=response.text,
        )

    return Call(Operation.SUBMIT, model, method, path, kwargs, parse, content)


def _encoded_body(kwargs: dict[str, Any], parts: tuple[tuple[str, object], ...]) -> bytes:
    """The generated `json` body, encoded once: the check that JSON can carry it, too.

    When it cannot, the error names the argument at fault (`parts`: name, value).
    """
    try:
        return _validate.encode_json(kwargs["json"], "the request body")
    except ValueError:
        for name, value in parts:
            if isinstance(value, Mapping):  # as the body holds it: any mapping, as a dict
                value = dict(value)
            if value is not None:
                _validate.encode_json(value, name)  # raises, naming the culprit
        raise


def item_call(
    item: JobRequest | Mapping[str, Any],
    model: str | None,
    priority: int,
    info: Mapping[str, Any] | None,
) -> Call[str]:
    """The submit of one bulk item: a `JobRequest` as it is, or a payload for `model`."""
    if isinstance(item, JobRequest):
        return submit_call(item.model, item.payload, item.priority, item.info)
    if model is None:
        raise TypeError("submit_many needs model=... when items are payloads, not JobRequests")
    return submit_call(model, item, priority, info)


def status_call(request_id: str, model: str) -> Call[JobStatus]:
    """GET /queue/status."""
    request_id = _validate.request_id(request_id)
    model = _validate.model_name(model)
    method, path, kwargs = _request_of(
        _lazy.get_queue_job_status._get_kwargs, request_id=request_id, model=model
    )
    return Call(Operation.STATUS, model, method, path, kwargs, _parse_status)


def _parse_status(response: httpx.Response) -> JobStatus:
    data = _expect_success(response)
    quick = quick_status(data)
    return quick if quick is not None else status_from_generated(data, response)


def status_from_generated(data: dict[str, Any], response: httpx.Response) -> JobStatus:
    """A status body through the generated model: the contract, and every typed error."""
    raw_status = data.get("status")
    if not isinstance(raw_status, str):
        raise _invalid(response, "status: expected a string")
    # A status from a newer service must not crash the caller: parse the rest
    # with a known placeholder, then keep the raw value.
    shadow = data if raw_status in KNOWN_STATUSES else {**data, "status": "pending"}
    parsed = _shape(api.QueueJobStatusResponse.from_dict, shadow, response)
    try:
        return JobStatus.from_generated(parsed, raw_status=raw_status)
    except InvalidField as exc:
        raise _invalid(response, str(exc)) from None


# -- the status fast path ------------------------------------------------------------
#
# Polling parses one status body after another, and going through the generated model
# (build it, check it, copy it into a JobStatus) cost about as much CPU as the rest of
# the client's own work per call. `quick_status` builds the JobStatus in one pass, for
# the bodies it can vouch for, and gives up (None) on anything else, so that
# `status_from_generated` still decides every refusal and every error message. It only
# runs while the generated model has exactly the fields and types it was written for
# (`_QUICK_FIELDS`); tests/contract/test_quick_status.py feeds both paths the same valid
# and invalid bodies and requires the same value or the same typed error.

#: The generated `QueueJobStatusResponse` fields, with their annotations, that
#: `quick_status` knows how to read. Any difference turns the fast path off.
_QUICK_FIELDS: dict[str, str] = {
    "model": "str",
    "request_id": "str",
    "status": "QueueJobStatusResponseStatus",
    "claimed_at": "datetime.datetime | Unset",
    "created_at": "datetime.datetime | Unset",
    "done_at": "datetime.datetime | Unset",
    "info": "QueueJobStatusResponseInfo | Unset",
    "inputs": "QueueJobStatusResponseInputs | Unset",
    "outputs": "QueueJobStatusResponseOutputs | Unset",
    "priority": "int | Unset",
    "retries": "int | Unset",
    "warnings": "list[str] | Unset",
    "additional_properties": "dict[str, Any]",
}
#: The keys of a status body `quick_status` reads; any other goes to `extra`.
_QUICK_KEYS: frozenset[str] = frozenset(_QUICK_FIELDS) - {"additional_properties"}
_REFUSED: Any = object()  # what `_quick_instant` gives for a value it cannot vouch for
_quick_enabled: bool | None = None  # decided on the first status parsed


def _quick_matches_generated() -> bool:
    # The annotations are strings: the generated modules use `from __future__ import annotations`.
    fields = attrs.fields(api.QueueJobStatusResponse)
    annotations: dict[str, object] = {f.name: f.type for f in fields}
    return annotations == _QUICK_FIELDS


def quick_status(data: dict[str, Any]) -> JobStatus | None:
    """The `JobStatus` of a status body the generated model certainly accepts; else None.

    None means "ask the generated model", not "invalid": null where the spec has no
    null, a wrong type, a timestamp `datetime.fromisoformat` refuses (the generated
    model's own parser; it retries lower-case RFC 3339), or an unknown key that names
    an attribute of the generated class (which `_shape` would read as one).
    """
    global _quick_enabled
    if _quick_enabled is None:
        _quick_enabled = _quick_matches_generated()
    # The generated model takes null for none of its fields; an extra key may be null,
    # but that is rare enough to leave to it. So from here on, None means absent.
    if not _quick_enabled or None in data.values():
        return None
    get = data.get
    request_id, model, status = get("request_id"), get("model"), get("status")
    # JSON decoding gives exact types: `type() is` also keeps out bool where int is due.
    if type(request_id) is not str or type(model) is not str or type(status) is not str:
        return None
    outputs, info, inputs = get("outputs"), get("info"), get("inputs")
    priority, retries, warnings = get("priority"), get("retries"), get("warnings")
    if (
        (outputs is not None and type(outputs) is not dict)
        or (info is not None and type(info) is not dict)
        or (inputs is not None and type(inputs) is not dict)
        or (priority is not None and type(priority) is not int)
        or (retries is not None and type(retries) is not int)
        or (
            warnings is not None
            and (type(warnings) is not list or not all(type(w) is str for w in warnings))
        )
    ):
        return None
    created_at, claimed_at, done_at = (
        _quick_instant(get("created_at")),
        _quick_instant(get("claimed_at")),
        _quick_instant(get("done_at")),
    )
    if created_at is _REFUSED or claimed_at is _REFUSED or done_at is _REFUSED:
        return None
    extra = {key: value for key, value in data.items() if key not in _QUICK_KEYS}
    if extra and any(hasattr(api.QueueJobStatusResponse, key) for key in extra):
        return None
    return JobStatus(
        request_id=request_id,
        model=model,
        status=status,
        outputs=outputs,
        info=info or {},
        inputs=inputs,
        priority=priority,
        retries=retries or 0,
        warnings=() if warnings is None else warnings,
        created_at=created_at,
        claimed_at=claimed_at,
        done_at=done_at,
        extra=extra,
    )


def _quick_instant(value: object) -> Any:
    """An aware datetime as the generated model parses it, None if absent, else `_REFUSED`."""
    if value is None:
        return None
    if type(value) is not str:
        return _REFUSED
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return _REFUSED
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def cancel_call(request_id: str, model: str) -> Call[CancelResult]:
    """POST /queue/cancel; 409 (not pending) is an outcome, not an error."""
    request_id = _validate.request_id(request_id)
    model = _validate.model_name(model)
    body = api.QueueCancelRequest(model=model, request_id=request_id)
    method, path, kwargs = _request_of(_lazy.cancel_queue_job._get_kwargs, body=body)
    content = _encoded_body(kwargs, (("request_id", request_id), ("model", model)))

    def parse(response: httpx.Response) -> CancelResult:
        data = _expect_success(response, also_ok=(409,))
        raw_status = data.get("status")
        if not isinstance(raw_status, str):
            raise _invalid(response, "status: expected a string")
        shadow = data if raw_status in KNOWN_CANCEL_STATUSES else {**data, "status": "canceled"}
        _shape(api.QueueCancelResponse.from_dict, shadow, response)
        return CancelResult(request_id=request_id, model=model, status=raw_status)

    return Call(Operation.CANCEL, model, method, path, kwargs, parse, content)


def metrics_call(model: str) -> Call[QueueMetrics]:
    """GET /queue/metrics."""
    model = _validate.model_name(model)
    method, path, kwargs = _request_of(_lazy.get_queue_metrics._get_kwargs, model=model)

    def parse(response: httpx.Response) -> QueueMetrics:
        data = _expect_success(response, route_hint=True)
        parsed = _shape(api.QueueMetricsResponse.from_dict, data, response)
        try:
            return QueueMetrics.from_generated(model, parsed)
        except InvalidField as exc:
            raise _invalid(response, str(exc)) from None

    return Call(Operation.METRICS, model, method, path, kwargs, parse)


def clear_call(model: str) -> Call[ClearResult]:
    """POST /queue/clear; the parsed value says how many pending jobs were canceled."""
    model = _validate.model_name(model)
    body = api.QueueClearRequest(model=model)
    method, path, kwargs = _request_of(_lazy.clear_queue._get_kwargs, body=body)
    content = _encoded_body(kwargs, (("model", model),))

    def parse(response: httpx.Response) -> ClearResult:
        data = _expect_success(response, route_hint=True)
        parsed = _shape(api.QueueClearResponse.from_dict, data, response)
        try:
            return ClearResult.from_generated(model, parsed)
        except InvalidField as exc:
            raise _invalid(response, str(exc)) from None

    return Call(Operation.CLEAR, model, method, path, kwargs, parse, content)


# -- response helpers --------------------------------------------------------------


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        data = json.loads(response.content)
    except ValueError:
        raise ResponseValidationError(
            "response is not JSON", status_code=response.status_code, body=response.text
        ) from None
    if not isinstance(data, dict):
        raise _invalid(response, f"expected a JSON object, got {type(data).__name__}")
    return data


def _expect_success(
    response: httpx.Response, also_ok: tuple[int, ...] = (), *, route_hint: bool = False
) -> dict[str, Any]:
    """The JSON object of a success; else the typed error.

    `route_hint`: the operation names no job, so a 404 can only mean a wrong URL.
    """
    if response.status_code == 200 or response.status_code in also_ok:
        return _json_object(response)
    raise _status_error(response, route_hint=route_hint)


def _shape(from_dict: Callable[[dict[str, Any]], T], data: dict[str, Any], r: httpx.Response) -> T:
    """Parse `data` with a generated `from_dict`, turning any shape error into a typed one."""
    try:
        parsed = from_dict(data)
    except SHAPE_ERRORS as exc:
        retried = _parse_upper_timestamps(from_dict, data)
        if retried is None:
            detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            raise _invalid(r, f"body does not match the spec: {detail}") from None
        parsed = retried
    # Generated nested models are built with dict(value), which also accepts a list of
    # pairs: insist that every nested object really was a JSON object.
    for key, raw in data.items():
        nested = getattr(parsed, key, None)
        if hasattr(nested, "additional_properties") and not isinstance(raw, dict):
            raise _invalid(r, f"{key}: expected object, got {type(raw).__name__}")
    return parsed


def _parse_upper_timestamps(
    from_dict: Callable[[dict[str, Any]], T], data: dict[str, Any]
) -> T | None:
    """Retry a failed parse with RFC 3339's lower-case "t"/"z" upper-cased; None if no help.

    Python's fromisoformat refuses the lower-case forms RFC 3339 allows. Done only after
    a failure, so that the usual parse pays nothing for it.
    """
    normalized = {key: _upper_rfc3339(value) for key, value in data.items()}
    if normalized == data:
        return None
    try:
        return from_dict(normalized)
    except SHAPE_ERRORS:
        return None


_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}t\d{2}:\d{2}:\d{2}(\.\d+)?(z|[+-]\d{2}:\d{2})$", re.IGNORECASE
)


def _upper_rfc3339(value: object) -> object:
    if isinstance(value, str) and _RFC3339.match(value):
        return value.upper()
    return value


def _invalid(response: httpx.Response, message: str) -> ResponseValidationError:
    return ResponseValidationError(message, status_code=response.status_code, body=response.text)


def _status_error(response: httpx.Response, *, route_hint: bool = False) -> APIStatusError:
    """The typed error for an error response, with a hint when the path itself was not found."""
    result = status_error(response)
    if response.status_code == 404 and (route_hint or result.param is None):
        # No job or model named in the answer: the path itself was not found.
        result.hint = (
            f"no such endpoint at {public_url(response.request.url)}; "
            "check the base URL (it should be the API root, e.g. https://api.together.ai/v1)"
        )
    return result
