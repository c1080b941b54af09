"""Bodies the spec forbids are rejected by the overlay's parsing path with its typed error.

For every success response the overlay parses (each operation's 200, and cancel's
409), instances derived from the spec's schema with one required property removed,
one property of a wrong JSON type, or a body that is not an object, must make
`Call.parse` raise `ResponseValidationError`: never return a value, and never let a
KeyError, TypeError or AttributeError from the generated code escape.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.contract.schemas import (
    SPEC,
    component_schema,
    example_instance,
    format_validator,
    inline_refs,
    wrong_type_values,
)
from together_queue._calls import (
    Call,
    cancel_call,
    clear_call,
    metrics_call,
    status_call,
    submit_call,
)
from together_queue.errors import APIStatusError, ResponseValidationError

# The overlay's parser for each operation of the spec, and the statuses it parses as
# an answer (the others become APIStatusError, tested with the error bodies below).
OVERLAY_CALLS: dict[str, tuple[Callable[[], Call[Any]], tuple[int, ...]]] = {
    "submitQueueJob": (lambda: submit_call("model-a", {"prompt": "hi"}, 0, None), (200,)),
    "getQueueJobStatus": (lambda: status_call("req-1", "model-a"), (200,)),
    "cancelQueueJob": (lambda: cancel_call("req-1", "model-a"), (200, 409)),
    "getQueueMetrics": (lambda: metrics_call("model-a"), (200,)),
    "clearQueue": (lambda: clear_call("model-a"), (200,)),
}

# Wrong values the overlay would let through (none today). An entry becomes a strict
# xfail with its reason, so that the day the overlay is fixed, the entry must go.
KNOWN_LEAKS: dict[str, str] = {}


def _spec_operations() -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    for path, item in SPEC["paths"].items():
        for method, op in item.items():
            yield op["operationId"], method.upper(), path, op


def _response_schema(op: dict[str, Any], status: int) -> dict[str, Any]:
    content = op["responses"][str(status)]["content"]["application/json"]
    schema: dict[str, Any] = inline_refs(content["schema"])
    return schema


def _schema_label(op: dict[str, Any], status: int) -> str:
    ref = op["responses"][str(status)]["content"]["application/json"]["schema"].get("$ref", "")
    return str(ref).rsplit("/", 1)[-1] or "inline"


def _cases() -> Iterator[Any]:
    for op_id, method, path, op in _spec_operations():
        if op_id not in OVERLAY_CALLS:
            continue  # test_every_operation_has_an_overlay_parser fails instead
        _, statuses = OVERLAY_CALLS[op_id]
        for status in statuses:
            schema = _response_schema(op, status)
            label = _schema_label(op, status)
            base = example_instance(schema)
            for name in schema.get("required", []):
                body = {k: v for k, v in base.items() if k != name}
                yield _case(op_id, method, path, status, label, f"{name} missing", body)
            for name, sub in schema.get("properties", {}).items():
                for value in wrong_type_values(sub):
                    body = {**base, name: value}
                    what = f"{name}={json.dumps(value)}"
                    yield _case(op_id, method, path, status, label, what, body)
            for value in wrong_type_values(schema):
                yield _case(op_id, method, path, status, label, f"body={json.dumps(value)}", value)


def _case(
    op_id: str, method: str, path: str, status: int, schema: str, field: str, body: Any
) -> Any:
    case_id = f"{op_id}-{status}-{schema}-{field}"
    marks = []
    if case_id in KNOWN_LEAKS:
        marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_LEAKS[case_id]))
    return pytest.param(op_id, method, path, status, schema, field, body, id=case_id, marks=marks)


def _response(method: str, path: str, status: int, content: bytes) -> httpx.Response:
    request = httpx.Request(method, "http://127.0.0.1/v1" + path)
    return httpx.Response(
        status, content=content, headers={"content-type": "application/json"}, request=request
    )


def test_every_operation_has_an_overlay_parser() -> None:
    missing = sorted({op_id for op_id, *_ in _spec_operations()} - set(OVERLAY_CALLS))
    assert not missing, f"operations in openapi.yaml with no overlay parser here: {missing}"


@pytest.mark.parametrize(
    ("op_id", "method", "path", "status", "schema", "field", "body"), list(_cases())
)
def test_forbidden_body_is_a_typed_error(
    op_id: str, method: str, path: str, status: int, schema: str, field: str, body: Any
) -> None:
    full_schema = _response_schema(
        next(op for oid, _, _, op in _spec_operations() if oid == op_id), status
    )
    # The case must really break the spec, or it proves nothing.
    assert not format_validator(full_schema).is_valid(body), f"{body!r} is valid {schema}"
    call = OVERLAY_CALLS[op_id][0]()
    response = _response(method, path, status, json.dumps(body).encode())
    what = f"{op_id} {status}, schema {schema}, {field}"
    outcome = _outcome(call, response)
    if not isinstance(outcome, BaseException):
        pytest.fail(f"{what}: the overlay accepted it and returned {outcome!r}")
    # A body carrying a well-formed QueueError is the service reporting a failure;
    # raising that error (with the status and raw body) is a typed answer too.
    expected: tuple[type[Exception], ...] = (ResponseValidationError,)
    if _carries_queue_error(body):
        expected = (ResponseValidationError, APIStatusError)
    if not isinstance(outcome, expected):
        pytest.fail(
            f"{what}: raised {type(outcome).__name__} ({outcome}), not {expected[0].__name__}"
        )
    assert getattr(outcome, "status_code", None) == status


def _outcome(call: Call[Any], response: httpx.Response) -> Any:
    """What parsing gives: the value, or the exception, whatever it is."""
    try:
        return call.parse(response)
    except Exception as exc:  # the point: see what escapes, whatever it is
        return exc


def _carries_queue_error(body: Any) -> bool:
    error = body.get("error") if isinstance(body, dict) else None
    return isinstance(error, dict) and format_validator(component_schema("QueueError")).is_valid(
        error
    )


@pytest.mark.parametrize("op_id", sorted(OVERLAY_CALLS))
@pytest.mark.parametrize("content", [b"", b"not json", b"{", b"<html></html>"])
def test_non_json_body_is_a_typed_error(op_id: str, content: bytes) -> None:
    _, method, path, _ = next(op for op in _spec_operations() if op[0] == op_id)
    with pytest.raises(ResponseValidationError, match="not JSON"):
        OVERLAY_CALLS[op_id][0]().parse(_response(method, path, 200, content))


def test_the_examples_are_valid() -> None:
    # The negative cases start from these: they must be valid before one field breaks.
    for op_id, _, _, op in _spec_operations():
        for status in OVERLAY_CALLS.get(op_id, (None, ()))[1]:
            schema = _response_schema(op, status)
            errors = list(format_validator(schema).iter_errors(example_instance(schema)))
            assert not errors, f"{op_id} {status}: example breaks its schema: {errors}"
    error_schema = component_schema("QueueError")
    assert format_validator(error_schema).is_valid(example_instance(error_schema))
