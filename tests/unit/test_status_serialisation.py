"""`JobStatus.to_dict`/`to_json`/`from_dict`: JSON data that reads back into an equal status."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from together_queue import JobStatus

UTC = dt.UTC


def _full() -> JobStatus:
    return JobStatus(
        request_id="req-1",
        model="m",
        status="done",
        outputs={"text": "hi", "n": [1, 2]},
        info={"progress": 1.0, "who": "test"},
        inputs={"prompt": "p"},
        priority=3,
        retries=1,
        warnings=("slow",),
        created_at=dt.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
        claimed_at=dt.datetime(2026, 1, 2, 3, 4, 6, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        done_at=dt.datetime(2026, 1, 2, 3, 4, 7, tzinfo=UTC),
        extra={"new_field": {"a": 1}},
    )


def test_to_dict_is_plain_json_with_the_service_field_names() -> None:
    data = _full().to_dict()
    assert json.loads(json.dumps(data)) == data  # nothing but JSON types
    assert data["created_at"] == "2026-01-02T03:04:05.123456+00:00"
    assert data["warnings"] == ["slow"]
    assert data["extra"] == {"new_field": {"a": 1}}
    assert "extra" not in JobStatus(request_id="r", model="m", status="pending").to_dict()


@pytest.mark.parametrize(
    "status",
    [
        _full(),
        JobStatus(request_id="r", model="m", status="pending"),
        JobStatus(request_id="r", model="m", status="archived", info={"x": None}),
    ],
)
def test_from_dict_of_to_dict_round_trips_every_field(status: JobStatus) -> None:
    back = JobStatus.from_dict(status.to_dict())
    assert back == status
    assert back.extra == status.extra  # not part of equality: checked on its own
    if status.claimed_at is not None:
        assert back.claimed_at is not None
        assert back.claimed_at.utcoffset() == status.claimed_at.utcoffset()
    assert JobStatus.from_dict(json.loads(status.to_json())) == status


def test_to_json_is_ascii_and_takes_an_indent() -> None:
    status = JobStatus(request_id="r", model="m", status="done", outputs={"text": "é\u2028"})
    assert status.to_json().isascii()
    assert status.to_json(indent=2).startswith("{\n  ")


def test_from_dict_reads_a_status_response_body() -> None:
    body: dict[str, Any] = {
        "request_id": "r",
        "model": "m",
        "status": "running",
        "info": {"progress": 0.5},
        "created_at": "2026-01-02T03:04:05Z",
        "brand_new": True,
    }
    status = JobStatus.from_dict(body)
    assert status.progress == 0.5
    assert status.created_at == dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert status.extra == {"brand_new": True}
    assert status.retries == 0 and status.outputs is None and status.warnings == ()


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"request_id": None}, "request_id"),
        ({"status": 3}, "status"),
        ({"info": [1]}, "info"),
        ({"retries": "2"}, "retries"),
        ({"warnings": "w"}, "warnings"),
        ({"created_at": "yesterday"}, "created_at"),
        ({"done_at": 17}, "done_at"),
    ],
)
def test_from_dict_names_the_field_with_the_wrong_type(change: dict[str, Any], named: str) -> None:
    data = {**JobStatus(request_id="r", model="m", status="done").to_dict(), **change}
    with pytest.raises(ValueError, match=named):
        JobStatus.from_dict(data)


def test_from_dict_of_something_else_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="mapping"):
        JobStatus.from_dict(["r", "m"])  # type: ignore[arg-type]
