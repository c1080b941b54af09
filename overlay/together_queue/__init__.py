"""together_queue: a safe, typed, sync and async client for the Together Queue API.

from together_queue import QueueClient

with QueueClient() as client:            # TOGETHER_API_KEY from the environment
outputs = client.run("my-model", {"prompt": "hello"})
"""

# Every public name loads on first use (PEP 562), so `import together_queue` and the
# `together-queue --help` path pay for no client, generated or model module.
#
# Three readers, three listings, kept in step by tests/unit/test_imports.py:
# - type checkers and IDEs read the imports under TYPE_CHECKING (running them would
#   load every module at once);
# - griffe (the API reference, `nox -s api_diff`) and `import *` read `__all__`, which
#   must be a literal list: griffe does not evaluate a computed one, and then takes
#   every name here for private;
# - what runs is `_EXPORTS`, each public name's defining module.
import importlib
from typing import TYPE_CHECKING, Any

from together_queue._version import __version__

if TYPE_CHECKING:
    from together_queue._bulk import AdaptiveLimit, AsyncSubmitStream, SubmitStream
    from together_queue._http_client import default_async_http_client, default_http_client
    from together_queue._models import (
        KNOWN_STATUSES,
        TERMINAL_STATUSES,
        CancelResult,
        ClearResult,
        Failure,
        JobStatus,
        Outcome,
        QueueMetrics,
        Success,
    )
    from together_queue._options import NOT_GIVEN, NotGiven
    from together_queue._polling import PollPolicy
    from together_queue._raw import RawResponse
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
    "NOT_GIVEN",
    "TERMINAL_STATUSES",
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AdaptiveLimit",
    "AsyncJob",
    "AsyncQueueClient",
    "AsyncSubmitStream",
    "AuthenticationError",
    "BadRequestError",
    "CancelResult",
    "ClearResult",
    "ConfigurationError",
    "ConflictError",
    "Failure",
    "InsecureTransportError",
    "Job",
    "JobCanceled",
    "JobFailed",
    "JobRequest",
    "JobStatus",
    "NotFoundError",
    "NotGiven",
    "Outcome",
    "PollPolicy",
    "QueueClient",
    "QueueMetrics",
    "RateLimitError",
    "RawResponse",
    "RequestTooLargeError",
    "ResponseValidationError",
    "ServerError",
    "SubmitOutcomeUnknown",
    "SubmitStream",
    "Success",
    "TogetherQueueError",
    "WaitTimeout",
    "__version__",
    "default_async_http_client",
    "default_http_client",
]

_MODELS = "together_queue._models"
_ERRORS = "together_queue.errors"
_JOBS = "together_queue.jobs"
_CLIENT = "together_queue.client"
# Public name -> the module that defines it; imported by `__getattr__` on first use.
_EXPORTS: dict[str, str] = {
    "KNOWN_STATUSES": _MODELS,
    "TERMINAL_STATUSES": _MODELS,
    "CancelResult": _MODELS,
    "ClearResult": _MODELS,
    "JobStatus": _MODELS,
    "Outcome": _MODELS,
    "Success": _MODELS,
    "Failure": _MODELS,
    "AdaptiveLimit": "together_queue._bulk",
    "SubmitStream": "together_queue._bulk",
    "AsyncSubmitStream": "together_queue._bulk",
    "QueueMetrics": _MODELS,
    "PollPolicy": "together_queue._polling",
    "NOT_GIVEN": "together_queue._options",
    "NotGiven": "together_queue._options",
    "RawResponse": "together_queue._raw",
    "default_http_client": "together_queue._http_client",
    "default_async_http_client": "together_queue._http_client",
    "AsyncQueueClient": _CLIENT,
    "QueueClient": _CLIENT,
    "AsyncJob": _JOBS,
    "Job": _JOBS,
    "JobRequest": _JOBS,
    "APIConnectionError": _ERRORS,
    "APIStatusError": _ERRORS,
    "APITimeoutError": _ERRORS,
    "AuthenticationError": _ERRORS,
    "BadRequestError": _ERRORS,
    "ConfigurationError": _ERRORS,
    "ConflictError": _ERRORS,
    "InsecureTransportError": _ERRORS,
    "JobCanceled": _ERRORS,
    "JobFailed": _ERRORS,
    "NotFoundError": _ERRORS,
    "RateLimitError": _ERRORS,
    "RequestTooLargeError": _ERRORS,
    "ResponseValidationError": _ERRORS,
    "ServerError": _ERRORS,
    "SubmitOutcomeUnknown": _ERRORS,
    "TogetherQueueError": _ERRORS,
    "WaitTimeout": _ERRORS,
}


# Hidden from type checkers: a visible module `__getattr__` would make them accept any
# name, typos included; they read the TYPE_CHECKING imports above instead.
if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        """Import the module that defines public `name`, cache the value here, return it."""
        module = _EXPORTS.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    """The module's names, with every public name even before it is loaded."""
    return sorted({*globals(), *__all__})
