"""Value objects callers get back: JobStatus, QueueMetrics, CancelResult, ClearResult, Outcome.

They are built from the generated models (`together_queue_api.models`), so the spec
stays the one source of truth for the wire. One exception, for speed: a status body
the generated model certainly accepts becomes a `JobStatus` in one pass
(`_calls.quick_status`), checked against the generated path by tests/contract.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, Generic, Literal, NoReturn, TypeAlias, TypeVar

import attrs

# Only the two status enums are needed at import time; the models package loads each
# model on first use, so this module does not pay for the response models. `Unset`
# stays at the top: imported inside the helpers it cost ~6 us per parsed status.
from together_queue_api.models import QueueCancelResponseStatus, QueueJobStatusResponseStatus
from together_queue_api.types import Unset

if TYPE_CHECKING:
    from together_queue_api.models import (
        QueueClearResponse,
        QueueJobStatusResponse,
        QueueMetricsResponse,
    )

T = TypeVar("T")

#: Every status value this version of the spec knows.
KNOWN_STATUSES: Final = frozenset(s.value for s in QueueJobStatusResponseStatus)
#: Statuses after which a job never changes again.
TERMINAL_STATUSES: Final = frozenset({"done", "failed", "canceled"})
#: Cancel answers this version of the spec knows.
KNOWN_CANCEL_STATUSES: Final = frozenset(s.value for s in QueueCancelResponseStatus)


def _dict_copy(value: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict(value) if value else {}


def _str_tuple(value: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return tuple(value)


def _optional_dict_copy(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if value is None else dict(value)


@attrs.frozen
class JobStatus:
    """One observation of a job, as the service reported it.

    `status` is the raw string the service sent. A value this client does not
    know (from a newer service) is kept as-is: `is_known` is False and
    `is_terminal` is False, so `Job.wait()` keeps polling until a known terminal
    status or its deadline.

    Immutable as far as Python allows without costing every caller a deep copy:
    no attribute can be reassigned; `outputs`, `info`, `inputs` and `extra` are
    this object's own shallow copies (plain dicts, so `json.dumps` takes them),
    which a caller could still change. Hashable: the hash covers the fields that
    cannot change (request id, model, status, priority, retries, warnings, times),
    equality covers those and the dicts, so equal statuses hash alike.
    """

    request_id: str
    model: str
    status: str
    outputs: dict[str, Any] | None = attrs.field(
        default=None, converter=_optional_dict_copy, hash=False
    )
    info: dict[str, Any] = attrs.field(factory=dict, converter=_dict_copy, hash=False)
    inputs: dict[str, Any] | None = attrs.field(
        default=None, converter=_optional_dict_copy, hash=False
    )
    priority: int | None = None
    retries: int = 0
    warnings: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    created_at: dt.datetime | None = None
    claimed_at: dt.datetime | None = None
    done_at: dt.datetime | None = None
    extra: dict[str, Any] = attrs.field(
        factory=dict, converter=_dict_copy, repr=False, eq=False, hash=False
    )

    @property
    def is_terminal(self) -> bool:
        """True once the job is done, failed or canceled."""
        return self.status in TERMINAL_STATUSES

    @property
    def is_known(self) -> bool:
        """True when `status` is one of the values in this client's spec."""
        return self.status in KNOWN_STATUSES

    @property
    def succeeded(self) -> bool:
        """True when the job is done (its outputs are available)."""
        return self.status == "done"

    @property
    def progress(self) -> float | None:
        """`info["progress"]` as a float in [0, 1], when the model reports one."""
        value = self.info.get("progress")
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1:
            return float(value)
        return None

    @property
    def error(self) -> str | None:
        """Why the job failed, from `info` (`error`, `message` or `reason`), when it says."""
        for key in ("error", "message", "reason"):
            value = self.info.get(key)
            if isinstance(value, dict):
                value = value.get("message")
            if isinstance(value, str) and value:
                return value
        return None

    def to_dict(self) -> dict[str, Any]:
        """The status as plain JSON data, with the service's field names.

        Timestamps are ISO 8601 strings, `warnings` a list; fields newer than this
        client (`extra`) sit under `"extra"`, present only when there are any.
        `JobStatus.from_dict` reads it back into an equal status.
        """
        data: dict[str, Any] = {
            "request_id": self.request_id,
            "model": self.model,
            "status": self.status,
            "priority": self.priority,
            "retries": self.retries,
            "outputs": self.outputs,
            "info": self.info,
            "inputs": self.inputs,
            "warnings": list(self.warnings),
            "created_at": _iso(self.created_at),
            "claimed_at": _iso(self.claimed_at),
            "done_at": _iso(self.done_at),
        }
        if self.extra:
            data["extra"] = self.extra
        return data

    def to_json(self, *, indent: int | None = None) -> str:
        """`to_dict()` as a JSON string (ASCII; `indent` as in `json.dumps`)."""
        import json  # on first use: most callers never serialise a status

        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobStatus:
        """Rebuild a status from `to_dict()` output (or a status response body).

        Keys this client does not know go to `extra`, like fields from a newer
        service. Raises `ValueError` naming the field when one has the wrong type.
        """
        if not isinstance(data, Mapping):
            raise TypeError(f"JobStatus.from_dict takes a mapping, got {type(data).__name__}")
        try:
            extra = dict(_nullable_mapping(data.get("extra"), "extra") or {})
            extra.update({k: v for k, v in data.items() if k not in _STATUS_FIELDS})
            return cls(
                request_id=_require(data.get("request_id"), str, "request_id"),
                model=_require(data.get("model"), str, "model"),
                status=_require(data.get("status"), str, "status"),
                outputs=_nullable_mapping(data.get("outputs"), "outputs"),
                info=_nullable_mapping(data.get("info"), "info") or {},
                inputs=_nullable_mapping(data.get("inputs"), "inputs"),
                priority=_nullable_int(data.get("priority"), "priority"),
                retries=_nullable_int(data.get("retries"), "retries") or 0,
                warnings=_warnings(data.get("warnings") or []),
                created_at=_timestamp(data.get("created_at"), "created_at"),
                claimed_at=_timestamp(data.get("claimed_at"), "claimed_at"),
                done_at=_timestamp(data.get("done_at"), "done_at"),
                extra=extra,
            )
        except InvalidField as exc:
            raise InvalidField(f"JobStatus.from_dict: {exc}") from None

    @classmethod
    def from_generated(cls, model: QueueJobStatusResponse, *, raw_status: str) -> JobStatus:
        """Build from the generated model; `raw_status` is the status string as sent."""
        return cls(
            request_id=_require(model.request_id, str, "request_id"),
            model=_require(model.model, str, "model"),
            status=raw_status,
            outputs=_mapping(model.outputs, "outputs"),
            info=_mapping(model.info, "info") or {},
            inputs=_mapping(model.inputs, "inputs"),
            priority=_optional_int(model.priority, "priority"),
            retries=_optional_int(model.retries, "retries") or 0,
            warnings=_warnings(model.warnings),
            created_at=_aware(model.created_at),
            claimed_at=_aware(model.claimed_at),
            done_at=_aware(model.done_at),
            extra=dict(model.additional_properties),
        )


@attrs.frozen
class QueueMetrics:
    """Queue depth for one model at one moment."""

    model: str
    messages_waiting: int
    messages_running: int
    total_jobs: int
    extra: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False, hash=False)

    @classmethod
    def from_generated(cls, model: str, data: QueueMetricsResponse) -> QueueMetrics:
        """Build from the generated model, checking each count is an int."""
        return cls(
            model=model,
            messages_waiting=_require(data.messages_waiting, int, "messages_waiting"),
            messages_running=_require(data.messages_running, int, "messages_running"),
            total_jobs=_require(data.total_jobs, int, "total_jobs"),
            extra=dict(data.additional_properties),
        )


@attrs.frozen
class CancelResult:
    """What a cancel achieved.

    `canceled` is True when the job is canceled now (by this call or an earlier
    one); otherwise `status` says what it was instead ("running", "done",
    "failed", or a value from a newer service), and the job is unchanged.
    """

    request_id: str
    model: str
    status: str

    @property
    def canceled(self) -> bool:
        """True when the job ended up canceled."""
        return self.status == "canceled"


I = TypeVar("I")  # noqa: E741 - the item type of an Outcome


@attrs.frozen
class ClearResult:
    """What a clear achieved: `canceled_count` pending jobs of `model` are now canceled.

    The count covers this call only; jobs running at the time are not counted (they
    were left to finish).
    """

    model: str
    canceled_count: int
    extra: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False, hash=False)

    @classmethod
    def from_generated(cls, model: str, data: QueueClearResponse) -> ClearResult:
        """Build from the generated model, checking the count is a non-negative int."""
        count: int = _require(data.canceled_count, int, "canceled_count")
        if count < 0:
            raise InvalidField(f"canceled_count: expected >= 0, got {count}")
        return cls(model=model, canceled_count=count, extra=dict(data.additional_properties))


@attrs.frozen
class Success(Generic[T, I]):
    """An item of a bulk call that produced a value (`ok` is True, `error` is None).

    `index` is the item's position in the input; `item` is the input itself.
    """

    index: int
    item: I
    value: T
    error: None = None

    @property
    def ok(self) -> Literal[True]:
        """Always True: checking it narrows an `Outcome` to a `Success`."""
        return True

    def unwrap(self) -> T:
        """The value."""
        return self.value


@attrs.frozen
class Failure(Generic[I]):
    """An item of a bulk call whose value was replaced by an error (`ok` is False).

    `index` is the item's position in the input; `item` is the input itself;
    `value` is always None.
    """

    index: int
    item: I
    error: BaseException
    value: None = None

    @property
    def ok(self) -> Literal[False]:
        """Always False: checking it narrows an `Outcome` to a `Failure`."""
        return False

    def unwrap(self) -> NoReturn:
        """Raise the error."""
        raise self.error


Outcome: TypeAlias = Success[T, I] | Failure[I]
"""The result of one item of a bulk call: a `Success` (value) or a `Failure` (error).

`if outcome.ok:` narrows it for a type checker: `outcome.value` is then a `T`,
and in the other branch `outcome.error` is a `BaseException`.
"""


class InvalidField(ValueError):
    """A field of a response has the wrong type; caught and re-raised as a typed API error."""


def _require(value: Any, kind: type, name: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, kind):
        got = "null" if value is None else type(value).__name__
        raise InvalidField(f"{name}: expected {kind.__name__}, got {got}")
    return value


def _optional_int(value: Any, name: str) -> int | None:
    if isinstance(value, Unset):
        return None
    result: int = _require(value, int, name)
    return result


def _mapping(value: Any, name: str) -> dict[str, Any] | None:
    if isinstance(value, Unset):
        return None
    props = getattr(value, "additional_properties", value)
    if not isinstance(props, dict):
        raise InvalidField(f"{name}: expected object, got {type(props).__name__}")
    return props  # JobStatus copies it


def _warnings(value: Any) -> tuple[str, ...]:
    if isinstance(value, Unset):
        return ()
    if not isinstance(value, list) or not all(isinstance(w, str) for w in value):
        raise InvalidField("warnings: expected a list of strings")
    return tuple(value)


# The keys `JobStatus.to_dict` writes; `from_dict` keeps any other key in `extra`.
_STATUS_FIELDS: Final = frozenset(
    {
        "request_id",
        "model",
        "status",
        "priority",
        "retries",
        "outputs",
        "info",
        "inputs",
        "warnings",
        "created_at",
        "claimed_at",
        "done_at",
        "extra",
    }
)


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _nullable_mapping(value: Any, name: str) -> dict[str, Any] | None:
    return None if value is None else _mapping(value, name)


def _nullable_int(value: Any, name: str) -> int | None:
    if value is None:
        return None
    result: int = _require(value, int, name)
    return result


def _timestamp(value: Any, name: str) -> dt.datetime | None:
    """An ISO 8601 string (or a datetime) as an aware datetime; None stays None."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return _aware(value)
    if not isinstance(value, str):
        raise InvalidField(f"{name}: expected an ISO 8601 string, got {type(value).__name__}")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidField(f"{name}: not an ISO 8601 date-time: {value!r}") from None
    return _aware(parsed)


def _aware(value: Any) -> dt.datetime | None:
    if isinstance(value, Unset):
        return None
    if not isinstance(value, dt.datetime):
        raise InvalidField(f"timestamp: expected date-time, got {type(value).__name__}")
    # RFC 3339 requires an offset; a server that omits it means UTC in practice.
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
