"""The status fast path (`quick_status`) agrees with the generated model on every body.

`status_call(...).parse` builds a `JobStatus` straight from the JSON when
`quick_status` vouches for the body, and goes through the generated
`QueueJobStatusResponse` otherwise. The generated model stays the contract: fed the
same bodies, valid and invalid, both paths must give an equal value (extra fields
included) or the same typed error, and the fast path must never accept a body the
generated one refuses.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from tests.contract.params import PROPERTY_SETTINGS
from tests.contract.schemas import SPEC, example_instance, inline_refs, wrong_type_values
from together_queue import JobStatus
from together_queue._calls import (
    _expect_success,
    _quick_matches_generated,
    quick_status,
    status_call,
    status_from_generated,
)
from together_queue._models import KNOWN_STATUSES


@cache
def _schema() -> dict[str, Any]:
    content = SPEC["paths"]["/queue/status"]["get"]["responses"]["200"]["content"]
    schema: dict[str, Any] = inline_refs(content["application/json"]["schema"])
    return schema


def _response(body: Any) -> httpx.Response:
    request = httpx.Request("GET", "http://127.0.0.1/v1/queue/status")
    return httpx.Response(200, content=json.dumps(body).encode(), request=request)


def _outcome(parse: Any, *args: Any) -> Any:
    """A comparable summary of what `parse(*args)` gives: the value, or the error."""
    try:
        value = parse(*args)
    except Exception as exc:  # the point: compare whatever escapes
        return ("error", type(exc), str(exc), getattr(exc, "status_code", None))
    assert isinstance(value, JobStatus)
    return ("value", value, value.extra)


def _generated_parse(response: httpx.Response) -> JobStatus:
    """`status_call(...).parse` as it would be without the fast path."""
    return status_from_generated(_expect_success(response), response)


def _check(body: Any) -> None:
    """Both paths agree on `body`; the fast one, when it answers, agrees with the contract."""
    response = _response(body)
    decoded = json.loads(response.content)  # what the parser sees (tuples become lists)
    generated = _outcome(_generated_parse, response)
    assert _outcome(status_call("req-1", "model-a").parse, response) == generated, body
    if isinstance(decoded, dict):
        quick = quick_status(decoded)
        if quick is not None:
            assert ("value", quick, quick.extra) == generated, body


def test_the_fast_path_is_on_for_this_generated_model() -> None:
    # Off, it would cost nothing in correctness, but the tests below would prove nothing.
    assert _quick_matches_generated()
    body = example_instance(_schema())
    assert quick_status(json.loads(json.dumps(body))) is not None


TIMESTAMPS = [
    "2026-04-08T12:00:00Z",
    "2026-04-08t12:00:00z",
    "2026-04-08T12:00:00z",
    "2026-04-08t12:00:00Z",
    "2026-04-08T12:00:00+00:00",
    "2026-04-08T12:00:00-00:00",
    "2026-04-08T12:00:00+05:30",
    "2026-04-08T12:00:00-08:00",
    "2026-04-08T12:00:00+0530",
    "2026-04-08T12:00:00+05",
    "2026-04-08T12:00:00.5Z",
    "2026-04-08T12:00:00.123Z",
    "2026-04-08T12:00:00.123456Z",
    "2026-04-08T12:00:00.123456789Z",
    "2026-04-08T12:00:00,5Z",
    "2026-04-08T12:00:00",
    "2026-04-08T12:00Z",
    "2026-04-08 12:00:00Z",
    "2026-04-08",
    "20260408T120000Z",
    "2026-W15-3T12:00:00Z",
    "2026-04-08T23:59:60Z",
    "2026-04-08T24:00:00Z",
    "2026-13-08T12:00:00Z",
    "2026-04-08T12:00:00.Z",
    "2026-04-08T12:00:00ZZ",
    " 2026-04-08T12:00:00Z",
    "",
    "yesterday",
]


@pytest.mark.parametrize("stamp", TIMESTAMPS)
@pytest.mark.parametrize("name", ["created_at", "claimed_at", "done_at"])
def test_timestamps_parse_alike(name: str, stamp: str) -> None:
    _check({**example_instance(_schema()), name: stamp})


def _deterministic_bodies() -> list[Any]:
    schema = _schema()
    base = example_instance(schema)
    bodies: list[Any] = [base, {k: base[k] for k in schema.get("required", [])}]
    for name in schema.get("required", []):
        bodies.append({k: v for k, v in base.items() if k != name})
    for name, sub in schema.get("properties", {}).items():
        bodies.extend({**base, name: value} for value in wrong_type_values(sub))
        bodies.append({**base, name: None})
    bodies.extend(value for value in wrong_type_values(schema))
    bodies.extend({**base, "status": status} for status in [*sorted(KNOWN_STATUSES), "paused"])
    bodies.extend(
        [
            {**base, "priority": 2.0},
            {**base, "retries": True},
            {**base, "warnings": ["a", 1]},
            {**base, "warnings": "a"},
            {**base, "info": [["key", "value"]]},
            {**base, "outputs": {"nested": {"deep": [1, 2]}}},
            {**base, "queue_position": 3},
            {**base, "extra": {"a": 1}},
            {**base, "error": "boom"},
        ]
    )
    # Unknown keys that name attributes of the generated class: `_shape` reads those.
    for key in ("to_dict", "from_dict", "additional_properties", "additional_keys", "__class__"):
        bodies.extend([{**base, key: 1}, {**base, key: {"a": 1}}])
    return bodies


@pytest.mark.parametrize("body", _deterministic_bodies(), ids=repr)
def test_example_bodies_parse_alike(body: Any) -> None:
    _check(body)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(TIMESTAMPS),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
FIELDS = st.sampled_from(
    [*_schema().get("properties", {}), "extra", "to_dict", "additional_properties", "x"]
)


@PROPERTY_SETTINGS
@given(body=from_schema(_schema()))
def test_valid_bodies_parse_alike(body: dict[str, Any]) -> None:
    _check(body)


@PROPERTY_SETTINGS
@given(
    body=from_schema(_schema()),
    changes=st.lists(st.tuples(FIELDS, JSON_VALUES), min_size=1, max_size=3),
    dropped=st.lists(FIELDS, max_size=2),
)
def test_changed_bodies_parse_alike(
    body: dict[str, Any], changes: list[tuple[str, Any]], dropped: list[str]
) -> None:
    changed = {**body, **dict(changes)}
    for name in dropped:
        changed.pop(name, None)
    _check(changed)
