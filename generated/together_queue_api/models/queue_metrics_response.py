from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="QueueMetricsResponse")


@_attrs_define
class QueueMetricsResponse:
    messages_running: int
    """ Number of jobs currently being processed """
    messages_waiting: int
    """ Number of jobs waiting to be claimed by a worker """
    total_jobs: int
    """ Total number of active jobs (waiting + running) """
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        messages_running = self.messages_running

        messages_waiting = self.messages_waiting

        total_jobs = self.total_jobs

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "messages_running": messages_running,
                "messages_waiting": messages_waiting,
                "total_jobs": total_jobs,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        messages_running = d.pop("messages_running")

        messages_waiting = d.pop("messages_waiting")

        total_jobs = d.pop("total_jobs")

        queue_metrics_response = cls(
            messages_running=messages_running,
            messages_waiting=messages_waiting,
            total_jobs=total_jobs,
        )

        queue_metrics_response.additional_properties = d
        return queue_metrics_response

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
