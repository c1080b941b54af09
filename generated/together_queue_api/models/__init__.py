"""Contains all the data models used in inputs/outputs"""

# Project template (templates/ in together-queue): each model's module loads on first
# use (PEP 562), so importing one model does not import all of them.
import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .queue_cancel_request import QueueCancelRequest
    from .queue_cancel_response import QueueCancelResponse
    from .queue_cancel_response_status import QueueCancelResponseStatus
    from .queue_clear_request import QueueClearRequest
    from .queue_clear_response import QueueClearResponse
    from .queue_error import QueueError
    from .queue_job_request import QueueJobRequest
    from .queue_job_request_info import QueueJobRequestInfo
    from .queue_job_request_payload import QueueJobRequestPayload
    from .queue_job_response import QueueJobResponse
    from .queue_job_status_response import QueueJobStatusResponse
    from .queue_job_status_response_info import QueueJobStatusResponseInfo
    from .queue_job_status_response_inputs import QueueJobStatusResponseInputs
    from .queue_job_status_response_outputs import QueueJobStatusResponseOutputs
    from .queue_job_status_response_status import QueueJobStatusResponseStatus
    from .queue_metrics_response import QueueMetricsResponse

__all__ = (
    "QueueCancelRequest",
    "QueueCancelResponse",
    "QueueCancelResponseStatus",
    "QueueClearRequest",
    "QueueClearResponse",
    "QueueError",
    "QueueJobRequest",
    "QueueJobRequestInfo",
    "QueueJobRequestPayload",
    "QueueJobResponse",
    "QueueJobStatusResponse",
    "QueueJobStatusResponseInfo",
    "QueueJobStatusResponseInputs",
    "QueueJobStatusResponseOutputs",
    "QueueJobStatusResponseStatus",
    "QueueMetricsResponse",
)

# Exported name -> the module (relative to this package) that defines it.
_MODULES: dict[str, str] = {
    "QueueCancelRequest": ".queue_cancel_request",
    "QueueCancelResponse": ".queue_cancel_response",
    "QueueCancelResponseStatus": ".queue_cancel_response_status",
    "QueueClearRequest": ".queue_clear_request",
    "QueueClearResponse": ".queue_clear_response",
    "QueueError": ".queue_error",
    "QueueJobRequest": ".queue_job_request",
    "QueueJobRequestInfo": ".queue_job_request_info",
    "QueueJobRequestPayload": ".queue_job_request_payload",
    "QueueJobResponse": ".queue_job_response",
    "QueueJobStatusResponse": ".queue_job_status_response",
    "QueueJobStatusResponseInfo": ".queue_job_status_response_info",
    "QueueJobStatusResponseInputs": ".queue_job_status_response_inputs",
    "QueueJobStatusResponseOutputs": ".queue_job_status_response_outputs",
    "QueueJobStatusResponseStatus": ".queue_job_status_response_status",
    "QueueMetricsResponse": ".queue_metrics_response",
}


# Hidden from type checkers: a visible module `__getattr__` would make them accept
# any name, typos included; they read the TYPE_CHECKING imports above instead.
if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        module = _MODULES.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, __name__), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
