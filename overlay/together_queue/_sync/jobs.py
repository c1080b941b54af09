# Generated from overlay/together_queue/_async/jobs.py by tools/unasync.py: do not edit.
# Edit the async source, then run `nox -s unasync`.
"""Job: the handle `QueueClient.submit()` returns."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from together_queue._handles import Handle
from together_queue._options import NOT_GIVEN, NotGiven

if TYPE_CHECKING:
    from together_queue._config import TimeoutTypes
    from together_queue._models import CancelResult, JobStatus
    from together_queue._polling import PollPolicy
    from together_queue._sync.client import QueueClient
    from together_queue.jobs import UpdateCallback

__all__ = ["Job"]


class Job(Handle["QueueClient"]):
    """A submitted job, polled and canceled through an `QueueClient`."""

    __slots__ = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], client: QueueClient | None = None) -> Job:
        """Rebuild a handle from `to_dict()` output, optionally bound to `client`."""
        return cls(data["request_id"], model=data["model"], client=client)

    def bind(self, client: QueueClient) -> Job:
        """A handle for the same job that talks through `client`."""
        return Job(self.request_id, model=self.model, client=client)

    def status(
        self,
        *,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
    ) -> JobStatus:
        """The job's current status (the options as for the client's `status`)."""
        return self._bound().status(
            self.request_id,
            model=self.model,
            extra_headers=extra_headers,
            extra_query=extra_query,
            timeout=timeout,
        )

    def cancel(
        self,
        *,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
    ) -> CancelResult:
        """Cancel the job if it is still pending; the result says what happened."""
        return self._bound().cancel(
            self.request_id,
            model=self.model,
            extra_headers=extra_headers,
            extra_query=extra_query,
            extra_body=extra_body,
            timeout=timeout,
        )

    def wait(
        self,
        timeout: float | None = None,
        on_update: UpdateCallback | None = None,
        *,
        poll: PollPolicy | None = None,
        raise_on_failure: bool = True,
        cancel_on_timeout: bool = False,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
    ) -> JobStatus:
        """Poll until the job is done, failed or canceled; return the final status.

        Raises `JobFailed`/`JobCanceled` (unless `raise_on_failure=False`) and
        `WaitTimeout` (carrying this job) after `timeout` seconds; with
        `cancel_on_timeout=True` the job is canceled first, if still pending.
        `on_update` is called once per observed change of status or info. An unknown
        status is treated as not finished: polling goes on until a known terminal
        status or the timeout.
        """
        return self._bound().wait(
            self,
            timeout=timeout,
            on_update=on_update,
            poll=poll,
            raise_on_failure=raise_on_failure,
            cancel_on_timeout=cancel_on_timeout,
            extra_headers=extra_headers,
            extra_query=extra_query,
        )

    def updates(
        self,
        timeout: float | None = None,
        *,
        poll: PollPolicy | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
    ) -> Iterator[JobStatus]:
        """Each observed change of status, progress or info, until the job is final.

        Polls as `wait()` does; the last status is the final one (failed or canceled
        too: nothing is raised for them). Raises `WaitTimeout` after `timeout` seconds.
        """
        return self._bound().updates(
            self, timeout=timeout, poll=poll, extra_headers=extra_headers, extra_query=extra_query
        )

    def result(
        self,
        timeout: float | None = None,
        *,
        cancel_on_timeout: bool = False,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Wait for the job and return its outputs (raises `JobFailed` if it failed)."""
        status = self.wait(
            timeout,
            cancel_on_timeout=cancel_on_timeout,
            extra_headers=extra_headers,
            extra_query=extra_query,
        )
        return status.outputs or {}
