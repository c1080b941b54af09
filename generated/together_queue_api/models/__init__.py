"""Contains all the data models used in inputs/outputs"""

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
