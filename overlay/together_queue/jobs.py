"""Job handles: what `submit()` returns, sync (`Job`) and async (`AsyncJob`).

A handle is just (model, request_id) plus the client it talks through. It
pickles, and serialises with `to_dict()`, as (model, request_id) alone, so a
job submitted in one process can be resumed in another with
`client.job(request_id, model=...)` or `Job.from_dict(data).bind(client)`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs

from together_queue import _validate
from together_queue._models import CancelResult, JobStatus
from together_queue._polling import PollPolicy
from together_queue.errors import ConfigurationError

if TYPE_CHECKING:
    from together_queue.client import AsyncQueueClient, QueueClient

C = TypeVar("C")
UpdateCallback = Callable[[JobStatus], object]


def _copy(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return dict(value) if isinstance(value, Mapping) else value  # checked at submit


def _copy_optional(value: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    return None if value is None else _copy(value)


@attrs.frozen
class JobRequest:
    """One job to submit: for `submit_many` items that differ in model, priority or info.

    No attribute can be reassigned, and `payload` and `info` are copied when the
    request is made, so changing the caller's dicts afterwards does not change it.
    Hashable by `model` and `priority` (the dicts are left out of the hash, equal
    requests still hash alike).
    """

    model: str
    payload: Mapping[str, Any] = attrs.field(converter=_copy, hash=False)
    priority: int = 0
    info: Mapping[str, Any] | None = attrs.field(default=None, converter=_copy_optional, hash=False)


class _Handle(Generic[C]):
    """What both handles share: identity, equality, pickling, serialisation."""

    __slots__ = ("_client", "model", "request_id")

    def __init__(self, request_id: str, *, model: str, client: C | None = None) -> None:
        self.request_id = _validate.request_id(request_id)
        self.model = _validate.model_name(model)
        self._client = client

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, request_id={self.request_id!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Handle):
            return NotImplemented
        return (self.model, self.request_id) == (other.model, other.request_id)

    def __hash__(self) -> int:
        return hash((self.model, self.request_id))

    def __reduce__(self) -> tuple[Any, tuple[str, str, str]]:
        # Only the identity travels: a client holds sockets and the API key.
        return (_restore, (type(self).__name__, self.request_id, self.model))

    def to_dict(self) -> dict[str, str]:
        """`{"model": ..., "request_id": ...}`: enough to resume the job elsewhere."""
        return {"model": self.model, "request_id": self.request_id}

    def _bound(self) -> C:
        if self._client is None:
            raise ConfigurationError(
                f"{self!r} has no client (it was unpickled or built from a dict); "
                "attach one with job.bind(client) or client.job(request_id, model=...)"
            )
        return self._client


class Job(_Handle["QueueClient"]):
    """A submitted job, polled and canceled through a `QueueClient`."""

    __slots__ = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], client: QueueClient | None = None) -> Job:
        """Rebuild a handle from `to_dict()` output, optionally bound to `client`."""
        return cls(data["request_id"], model=data["model"], client=client)

    def bind(self, client: QueueClient) -> Job:
        """A handle for the same job that talks through `client`."""
        return Job(self.request_id, model=self.model, client=client)

    def status(self) -> JobStatus:
        """The job's current status."""
        return self._bound().status(self.request_id, model=self.model)

    def cancel(self) -> CancelResult:
        """Cancel the job if it is still pending; the result says what happened."""
        return self._bound().cancel(self.request_id, model=self.model)

    def wait(
        self,
        timeout: float | None = None,
        on_update: UpdateCallback | None = None,
        *,
        poll: PollPolicy | None = None,
        raise_on_failure: bool = True,
    ) -> JobStatus:
        """Poll until the job is done, failed or canceled; return the final status.

        Raises `JobFailed`/`JobCanceled` (unless `raise_on_failure=False`) and
        `WaitTimeout` after `timeout` seconds. `on_update` is called once per
        observed change of status or info. An unknown status is treated as not
        finished: polling goes on until a known terminal status or the timeout.
        """
        return self._bound().wait(
            self, timeout=timeout, on_update=on_update, poll=poll, raise_on_failure=raise_on_failure
        )

    def result(self, timeout: float | None = None) -> dict[str, Any]:
        """Wait for the job and return its outputs (raises `JobFailed` if it failed)."""
        return self.wait(timeout).outputs or {}


class AsyncJob(_Handle["AsyncQueueClient"]):
    """A submitted job, polled and canceled through an `AsyncQueueClient`."""

    __slots__ = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], client: AsyncQueueClient | None = None) -> AsyncJob:
        """Rebuild a handle from `to_dict()` output, optionally bound to `client`."""
        return cls(data["request_id"], model=data["model"], client=client)

    def bind(self, client: AsyncQueueClient) -> AsyncJob:
        """A handle for the same job that talks through `client`."""
        return AsyncJob(self.request_id, model=self.model, client=client)

    async def status(self) -> JobStatus:
        """The job's current status."""
        return await self._bound().status(self.request_id, model=self.model)

    async def cancel(self) -> CancelResult:
        """Cancel the job if it is still pending; the result says what happened."""
        return await self._bound().cancel(self.request_id, model=self.model)

    async def wait(
        self,
        timeout: float | None = None,
        on_update: UpdateCallback | None = None,
        *,
        poll: PollPolicy | None = None,
        raise_on_failure: bool = True,
    ) -> JobStatus:
        """Poll until the job is done, failed or canceled; see `Job.wait`."""
        return await self._bound().wait(
            self, timeout=timeout, on_update=on_update, poll=poll, raise_on_failure=raise_on_failure
        )

    async def result(self, timeout: float | None = None) -> dict[str, Any]:
        """Wait for the job and return its outputs (raises `JobFailed` if it failed)."""
        return (await self.wait(timeout)).outputs or {}


def _restore(kind: str, request_id: str, model: str) -> Job | AsyncJob:
    cls: type[Job] | type[AsyncJob] = AsyncJob if kind == "AsyncJob" else Job
    return cls(request_id, model=model)
