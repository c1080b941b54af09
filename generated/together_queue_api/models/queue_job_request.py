from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.queue_job_request_info import QueueJobRequestInfo
    from ..models.queue_job_request_payload import QueueJobRequestPayload


T = TypeVar("T", bound="QueueJobRequest")


@_attrs_define
class QueueJobRequest:
    model: str
    """ Required model identifier """
    payload: QueueJobRequestPayload
    """ Freeform model input. Passed unchanged to the model. Contents are model-specific. """
    info: QueueJobRequestInfo | Unset = UNSET
    """ Arbitrary JSON metadata stored with the job and returned in status
    responses. The model and system may add or update keys during
    processing.
     """
    priority: int | Unset = 0
    """ Job priority. Higher values are processed first (strict priority
    ordering). Jobs with equal priority are processed in submission
    order (FIFO).
     """
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        model = self.model

        payload = self.payload.to_dict()

        info: dict[str, Any] | Unset = UNSET
        if not isinstance(self.info, Unset):
            info = self.info.to_dict()

        priority = self.priority

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "model": model,
                "payload": payload,
            }
        )
        if info is not UNSET:
            field_dict["info"] = info
        if priority is not UNSET:
            field_dict["priority"] = priority

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.queue_job_request_info import QueueJobRequestInfo  # noqa: PLC0415
        from ..models.queue_job_request_payload import QueueJobRequestPayload  # noqa: PLC0415

        d = dict(src_dict)
        model = d.pop("model")

        payload = QueueJobRequestPayload.from_dict(d.pop("payload"))

        _info = d.pop("info", UNSET)
        info: QueueJobRequestInfo | Unset
        if isinstance(_info, Unset):
            info = UNSET
        else:
            info = QueueJobRequestInfo.from_dict(_info)

        priority = d.pop("priority", UNSET)

        queue_job_request = cls(
            model=model,
            payload=payload,
            info=info,
            priority=priority,
        )

        queue_job_request.additional_properties = d
        return queue_job_request

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
