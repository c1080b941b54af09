from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.queue_job_status_response_status import QueueJobStatusResponseStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.queue_job_status_response_info import QueueJobStatusResponseInfo
    from ..models.queue_job_status_response_inputs import QueueJobStatusResponseInputs
    from ..models.queue_job_status_response_outputs import QueueJobStatusResponseOutputs


T = TypeVar("T", bound="QueueJobStatusResponse")


@_attrs_define
class QueueJobStatusResponse:
    model: str
    """ Model identifier the job was submitted to """
    request_id: str
    """ The request ID that was returned from the submit endpoint """
    status: QueueJobStatusResponseStatus
    """ Current job status. Transitions: pending → running → done/failed. A pending job may also be canceled.
     """
    claimed_at: datetime.datetime | Unset = UNSET
    """ Timestamp when a worker claimed the job """
    created_at: datetime.datetime | Unset = UNSET
    """ Timestamp when the job was created """
    done_at: datetime.datetime | Unset = UNSET
    """ Timestamp when the job completed (done or failed) """
    info: QueueJobStatusResponseInfo | Unset = UNSET
    """ Job metadata. Contains keys from the submit request, plus any
    modifications from the model or system (e.g. progress, retry
    history).
     """
    inputs: QueueJobStatusResponseInputs | Unset = UNSET
    """ Freeform model input, as submitted """
    outputs: QueueJobStatusResponseOutputs | Unset = UNSET
    """ Freeform model output, populated when the job reaches done status. Contents are model-specific. """
    priority: int | Unset = UNSET
    """ Job priority. Higher values are processed first. """
    retries: int | Unset = UNSET
    """ Number of times this job has been retried. Workers set a claim
    timeout and must send periodic status updates to keep the job alive.
    If no update is received within the timeout, the job is returned to
    the queue and retried. After 3 retries the job is permanently
    failed. Jobs explicitly failed by the model are not retried.
     """
    warnings: list[str] | Unset = UNSET
    """ Non-fatal messages about the request (e.g. deprecation notices) """
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        model = self.model

        request_id = self.request_id

        status = self.status.value

        claimed_at: str | Unset = UNSET
        if not isinstance(self.claimed_at, Unset):
            claimed_at = self.claimed_at.isoformat()

        created_at: str | Unset = UNSET
        if not isinstance(self.created_at, Unset):
            created_at = self.created_at.isoformat()

        done_at: str | Unset = UNSET
        if not isinstance(self.done_at, Unset):
            done_at = self.done_at.isoformat()

        info: dict[str, Any] | Unset = UNSET
        if not isinstance(self.info, Unset):
            info = self.info.to_dict()

        inputs: dict[str, Any] | Unset = UNSET
        if not isinstance(self.inputs, Unset):
            inputs = self.inputs.to_dict()

        outputs: dict[str, Any] | Unset = UNSET
        if not isinstance(self.outputs, Unset):
            outputs = self.outputs.to_dict()

        priority = self.priority

        retries = self.retries

        warnings: list[str] | Unset = UNSET
        if not isinstance(self.warnings, Unset):
            warnings = self.warnings

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "model": model,
                "request_id": request_id,
                "status": status,
            }
        )
        if claimed_at is not UNSET:
            field_dict["claimed_at"] = claimed_at
        if created_at is not UNSET:
            field_dict["created_at"] = created_at
        if done_at is not UNSET:
            field_dict["done_at"] = done_at
        if info is not UNSET:
            field_dict["info"] = info
        if inputs is not UNSET:
            field_dict["inputs"] = inputs
        if outputs is not UNSET:
            field_dict["outputs"] = outputs
        if priority is not UNSET:
            field_dict["priority"] = priority
        if retries is not UNSET:
            field_dict["retries"] = retries
        if warnings is not UNSET:
            field_dict["warnings"] = warnings

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.queue_job_status_response_info import QueueJobStatusResponseInfo  # noqa: PLC0415
        from ..models.queue_job_status_response_inputs import (
            QueueJobStatusResponseInputs,  # noqa: PLC0415
        )
        from ..models.queue_job_status_response_outputs import (
            QueueJobStatusResponseOutputs,  # noqa: PLC0415
        )

        d = dict(src_dict)
        model = d.pop("model")

        request_id = d.pop("request_id")

        status = QueueJobStatusResponseStatus(d.pop("status"))

        _claimed_at = d.pop("claimed_at", UNSET)
        claimed_at: datetime.datetime | Unset
        if isinstance(_claimed_at, Unset):
            claimed_at = UNSET
        else:
            claimed_at = datetime.datetime.fromisoformat(_claimed_at)

        _created_at = d.pop("created_at", UNSET)
        created_at: datetime.datetime | Unset
        if isinstance(_created_at, Unset):
            created_at = UNSET
        else:
            created_at = datetime.datetime.fromisoformat(_created_at)

        _done_at = d.pop("done_at", UNSET)
        done_at: datetime.datetime | Unset
        if isinstance(_done_at, Unset):
            done_at = UNSET
        else:
            done_at = datetime.datetime.fromisoformat(_done_at)

        _info = d.pop("info", UNSET)
        info: QueueJobStatusResponseInfo | Unset
        if isinstance(_info, Unset):
            info = UNSET
        else:
            info = QueueJobStatusResponseInfo.from_dict(_info)

        _inputs = d.pop("inputs", UNSET)
        inputs: QueueJobStatusResponseInputs | Unset
        if isinstance(_inputs, Unset):
            inputs = UNSET
        else:
            inputs = QueueJobStatusResponseInputs.from_dict(_inputs)

        _outputs = d.pop("outputs", UNSET)
        outputs: QueueJobStatusResponseOutputs | Unset
        if isinstance(_outputs, Unset):
            outputs = UNSET
        else:
            outputs = QueueJobStatusResponseOutputs.from_dict(_outputs)

        priority = d.pop("priority", UNSET)

        retries = d.pop("retries", UNSET)

        warnings = cast(list[str], d.pop("warnings", UNSET))

        queue_job_status_response = cls(
            model=model,
            request_id=request_id,
            status=status,
            claimed_at=claimed_at,
            created_at=created_at,
            done_at=done_at,
            info=info,
            inputs=inputs,
            outputs=outputs,
            priority=priority,
            retries=retries,
            warnings=warnings,
        )

        queue_job_status_response.additional_properties = d
        return queue_job_status_response

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
