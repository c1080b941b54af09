"""together_queue: a safe, typed, sync and async client for the Together Queue API.

from together_queue import QueueClient

with QueueClient() as client:            # TOGETHER_API_KEY from the environment
outputs = client.run("my-model", {"prompt": "hello"})
"""

from together_queue._models import (
    KNOWN_STATUSES,
    TERMINAL_STATUSES,
    CancelResult,
    ClearResult,
    JobStatus,
    Outcome,
    QueueMetrics,
)
from together_queue._polling import PollPolicy
from together_queue._version import __version__
from together_queue.client import AsyncQueueClient, QueueClient
from together_queue.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    InsecureTransportError,
    JobCanceled,
    JobFailed,
    NotFoundError,
    RateLimitError,
    RequestTooLargeError,
    ResponseValidationError,
    ServerError,
    SubmitOutcomeUnknown,
    TogetherQueueError,
    WaitTimeout,
)
from together_queue.jobs import AsyncJob, Job, JobRequest

__all__ = [
    "KNOWN_STATUSES",
    "TERMINAL_STATUSES",
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncJob",
    "AsyncQueueClient",
    "AuthenticationError",
    "BadRequestError",
    "CancelResult",
    "ClearResult",
    "ConfigurationError",
    "ConflictError",
    "InsecureTransportError",
    "Job",
    "JobCanceled",
    "JobFailed",
    "JobRequest",
    "JobStatus",
    "NotFoundError",
    "Outcome",
    "PollPolicy",
    "QueueClient",
    "QueueMetrics",
    "RateLimitError",
    "RequestTooLargeError",
    "ResponseValidationError",
    "ServerError",
    "SubmitOutcomeUnknown",
    "TogetherQueueError",
    "WaitTimeout",
    "__version__",
]
