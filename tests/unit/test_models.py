"""Value objects: what callers read off a status, and how they compare."""

from __future__ import annotations

import pytest

from together_queue import Failure, JobStatus, Outcome, Success


def _status(status: str = "running", **info: object) -> JobStatus:
    return JobStatus(request_id="r", model="m", status=status, info=info)


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        ({"error": "out of memory"}, "out of memory"),
        ({"error": {"message": "nested", "code": 7}}, "nested"),
        ({"message": "from message"}, "from message"),
        ({"reason": "from reason"}, "from reason"),
        ({"error": ""}, None),
        ({"error": 42}, None),
        ({}, None),
    ],
)
def test_error_reads_the_failure_reason_from_info(info: dict[str, object], expected: str) -> None:
    assert _status("failed", **info).error == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.25, 0.25), (1, 1.0), (0, 0.0), (1.5, None), (-0.1, None), ("50%", None), (True, None)],
)
def test_progress_is_a_fraction_or_none(value: object, expected: float | None) -> None:
    assert _status(progress=value).progress == expected


def test_terminal_and_known_statuses() -> None:
    assert [
        s for s in ("pending", "running", "done", "failed", "canceled") if _status(s).is_terminal
    ] == [
        "done",
        "failed",
        "canceled",
    ]
    assert not _status("archived").is_known


def test_equality_ignores_extra_fields() -> None:
    a = JobStatus(request_id="r", model="m", status="done", extra={"new": 1})
    b = JobStatus(request_id="r", model="m", status="done")
    assert a == b


def test_outcome_unwraps_value_or_raises_error() -> None:
    assert Success(0, "item", 5).unwrap() == 5
    failed: Outcome[int, str] = Failure(1, "item", KeyError("k"))
    assert not failed.ok
    with pytest.raises(KeyError):
        failed.unwrap()


def test_outcome_narrows_on_ok() -> None:
    # Issue 16 item 20: `if o.ok:` narrows for mypy --strict (this file is type-checked).
    outcomes: list[Outcome[int, str]] = [Success(0, "a", 5), Failure(1, "b", KeyError("k"))]
    values: list[int] = [o.value for o in outcomes if o.ok]
    errors: list[BaseException] = [o.error for o in outcomes if not o.ok]
    items: list[str] = [o.item for o in outcomes]
    assert (values, len(errors), items) == ([5], 1, ["a", "b"])


def test_job_status_is_hashable_and_owns_its_dicts() -> None:
    outputs = {"text": "hi"}
    status = JobStatus(request_id="r", model="m", status="done", outputs=outputs)
    same = JobStatus(request_id="r", model="m", status="done", outputs={"text": "hi"})
    assert status == same and hash(status) == hash(same)
    assert {status, same} == {status}
    outputs["text"] = "changed by the caller"
    assert status.outputs == {"text": "hi"}  # a copy was kept


def test_job_request_is_hashable_and_copies_its_dicts() -> None:
    from together_queue import JobRequest

    payload = {"prompt": "a"}
    request = JobRequest("m", payload, priority=2, info={"k": 1})
    assert hash(request) == hash(JobRequest("m", {"prompt": "a"}, priority=2, info={"k": 1}))
    payload["prompt"] = "b"
    assert request.payload == {"prompt": "a"}


def test_too_deep_a_payload_is_a_value_error_not_a_recursion_error() -> None:
    from together_queue import _validate

    deep: dict[str, object] = {}
    node = deep
    # Deeper than any CPython's json encoder goes: 3.13's encodes 5,000 levels fine.
    for _ in range(100_000):
        node["a"] = {}
        node = node["a"]  # type: ignore[assignment]
    with pytest.raises(ValueError, match="nested too deeply"):
        _validate.json_object(deep, "payload")
