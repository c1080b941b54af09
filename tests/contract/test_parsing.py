"""Bodies the spec allows are accepted by the overlay's parsing path, values intact.

The other half of test_negative: instances generated from each success response's
schema (hypothesis-jsonschema) must parse, and the overlay's value must carry what
the body said. A spec-valid body that the overlay rejects is a contract bug too.
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
from tests.contract.schemas import SPEC, inline_refs, rfc3339_instant
from together_queue._calls import cancel_call, clear_call, metrics_call, status_call, submit_call
from together_queue.errors import APIStatusError, ResponseValidationError

PARSING = PROPERTY_SETTINGS


@cache
def _schema(path: str, method: str, status: int) -> dict[str, Any]:
    content = SPEC["paths"][path][method]["responses"][str(status)]["content"]
    schema: dict[str, Any] = inline_refs(content["application/json"]["schema"])
    return schema


def _response(method: str, path: str, status: int, body: Any) -> httpx.Response:
    request = httpx.Request(method.upper(), "http://127.0.0.1/v1" + path)
    return httpx.Response(status, content=json.dumps(body).encode(), request=request)


@PARSING
@given(body=from_schema(_schema("/queue/status", "get", 200)))
def test_valid_status_bodies_parse(body: dict[str, Any]) -> None:
    status = status_call("req-1", "model-a").parse(_response("get", "/queue/status", 200, body))
    assert (status.request_id, status.model, status.status) == (
        body["request_id"],
        body["model"],
        body["status"],
    )
    assert status.info == body.get("info", {})
    assert status.outputs == body.get("outputs")
    assert status.warnings == tuple(body.get("warnings", ()))
    for name in ("created_at", "claimed_at", "done_at"):
        parsed = getattr(status, name)
        expected = rfc3339_instant(body[name]) if name in body else None
        assert parsed == expected, f"{name}: {body.get(name)!r} parsed as {parsed!r}"


@PARSING
@given(body=from_schema(_schema("/queue/metrics", "get", 200)))
def test_valid_metrics_bodies_parse(body: dict[str, Any]) -> None:
    metrics = metrics_call("model-a").parse(_response("get", "/queue/metrics", 200, body))
    assert (metrics.messages_waiting, metrics.messages_running, metrics.total_jobs) == (
        body["messages_waiting"],
        body["messages_running"],
        body["total_jobs"],
    )


@PARSING
@given(body=from_schema(_schema("/queue/clear", "post", 200)))
def test_valid_clear_bodies_parse(body: dict[str, Any]) -> None:
    result = clear_call("model-a").parse(_response("post", "/queue/clear", 200, body))
    assert (result.model, result.canceled_count) == ("model-a", body["canceled_count"])


@PARSING
@given(status=st.sampled_from([200, 409]), data=st.data())
def test_valid_cancel_bodies_parse(status: int, data: st.DataObject) -> None:
    body = data.draw(from_schema(_schema("/queue/cancel", "post", status)))
    assert isinstance(body, dict)
    result = cancel_call("req-1", "model-a").parse(_response("post", "/queue/cancel", status, body))
    assert result.status == body["status"]


@PARSING
@given(body=from_schema(_schema("/queue/submit", "post", 200)))
def test_valid_submit_bodies_parse_or_say_why(body: dict[str, Any]) -> None:
    # Every property of QueueJobResponse is optional: a body without a usable
    # requestId is valid but gives the caller nothing, so it must be a typed error.
    # A usable requestId wins over an `error` sent beside it: the job exists.
    call = submit_call("model-a", {"prompt": "hi"}, 0, None)
    response = _response("post", "/queue/submit", 200, body)
    request_id = body.get("requestId")
    if isinstance(request_id, str) and request_id:
        assert call.parse(response) == request_id
    else:
        with pytest.raises((ResponseValidationError, APIStatusError)):
            call.parse(response)


# RFC 3339 section 5.6 allows lower-case "t" and "z" (jsonschema's format checker agrees).
SPELLINGS = {
    "2026-04-08T12:00:00Z": None,
    "2026-04-08T12:00:00.123456789Z": None,
    "2026-04-08T14:00:00+02:00": None,
    "2026-04-08T12:00:00-00:00": None,
    "2026-04-08t12:00:00z": None,
    "2026-04-08T12:00:00.5z": None,
}


@pytest.mark.parametrize(
    "spelling",
    [
        pytest.param(s, marks=[pytest.mark.xfail(strict=True, reason=why)] if why else [])
        for s, why in SPELLINGS.items()
    ],
)
def test_every_rfc3339_spelling_parses(spelling: str) -> None:
    body = {"request_id": "r", "model": "m", "status": "done", "created_at": spelling}
    status = status_call("r", "m").parse(_response("get", "/queue/status", 200, body))
    assert status.created_at == rfc3339_instant(spelling)
