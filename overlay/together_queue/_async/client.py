"""AsyncQueueClient: the asynchronous client of the Together Queue API.

The decisions live in I/O-free modules (`_base_client`, `_calls`, `_retry`,
`_polling`, `_bulk`); this class only sends, sleeps and hands results back.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

import httpx

from together_queue import _validate
from together_queue._async._io import sleep
from together_queue._base_client import (
    DEFAULT_CONCURRENCY,
    HEADERS,
    ClientBase,
    log_response,
    log_retry,
    observe,
    payloads_need_model,
)
from together_queue._retry import SendObserver, remaining_seconds

if TYPE_CHECKING:
    from pathlib import Path

    from together_queue._base_client import Item
    from together_queue._bulk import AsyncSubmitStream
    from together_queue._calls import Call
    from together_queue._download import Dest, ProgressCallback
    from together_queue._models import CancelResult, ClearResult, JobStatus, Outcome, QueueMetrics
    from together_queue._polling import PollPolicy
    from together_queue.jobs import AsyncJob, JobRequest, UpdateCallback

__all__ = ["AsyncQueueClient"]

T = TypeVar("T")


class AsyncQueueClient(ClientBase[httpx.AsyncClient]):
    """Asynchronous client for the Together Queue API.

    `api_key` defaults to `TOGETHER_API_KEY` (optional for a loopback emulator);
    `base_url` to `TOGETHER_BASE_URL`, else `https://api.together.ai/v1` (with or
    without `/v1`). `max_retries` applies to safe calls; submits are retried
    only when they certainly did not reach the service, unless `retry_submits`.
    A given `http_client` is used as-is and is not closed by this client.
    """

    _http_type = httpx.AsyncClient
    _direct_transport = httpx.AsyncHTTPTransport

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (unless it was passed in by the caller)."""
        if self._owns_http:
            await self._http.aclose()

    async def _send(
        self,
        call: Call[T],
        *,
        deadline: float | None = None,
        observer: SendObserver | None = None,
    ) -> T:
        """Send `call` with retries, all within `deadline` (a `time.monotonic()` value)."""
        kwargs = call.request_kwargs(self.base_url, HEADERS)
        state = self._retry_state(call, kwargs["url"])
        while True:
            remaining = remaining_seconds(deadline)
            if remaining is not None and remaining <= 0:
                raise state.out_of_time()
            started = time.perf_counter()
            delay: float | None
            try:
                response = await self._http.request(
                    **kwargs, auth=self._auth, timeout=self._attempt_timeout(remaining)
                )
            except httpx.RequestError as exc:
                delay = state.on_exception(exc, remaining_seconds(deadline))
                log_retry(call, state.attempt, delay, type(exc).__name__)
            else:
                log_response(call, response, started)
                observe(observer, response)
                delay = state.on_response(response, remaining_seconds(deadline))
                if delay is None:
                    return self._final(call, state, response)
                log_retry(call, state.attempt, delay, f"HTTP {response.status_code}")
            await sleep(delay)

    async def submit(
        self,
        model: str,
        payload: Mapping[str, Any],
        *,
        priority: int = 0,
        info: Mapping[str, Any] | None = None,
    ) -> AsyncJob:
        """Queue a job for `model`; return its handle. Not resent on an ambiguous failure."""
        call = self._submit_call(model, payload, priority, info)
        from together_queue.jobs import AsyncJob  # on first use: see the imports

        return AsyncJob(await self._send(call), model=call.model, client=self)

    async def status(self, request_id: str, *, model: str) -> JobStatus:
        """The current status of a job."""
        return await self._send(self._status_call(request_id, model))

    async def cancel(self, request_id: str, *, model: str) -> CancelResult:
        """Cancel a pending job; a job already running or finished is reported, not an error."""
        return await self._send(self._cancel_call(request_id, model))

    async def metrics(self, model: str) -> QueueMetrics:
        """Queue depth for `model`: waiting, running, total."""
        return await self._send(self._metrics_call(model))

    async def clear(self, model: str) -> ClearResult:
        """Cancel every pending job of `model`; running jobs are left to finish.

        Retried only when the service certainly did not act (connection never made, or
        429), so `canceled_count` is exact: a repeat after an attempt that may have
        acted would count only what it canceled itself. Any other failure raises;
        calling again is safe (clearing twice has the effect of clearing once).
        """
        return await self._send(self._clear_call(model))

    def job(self, request_id: str, *, model: str) -> AsyncJob:
        """A handle for a job submitted earlier (possibly by another process)."""
        from together_queue.jobs import AsyncJob  # on first use: see the imports

        return AsyncJob(request_id, model=model, client=self)

    async def wait(
        self,
        job: AsyncJob,
        *,
        timeout: float | None = None,
        on_update: UpdateCallback | None = None,
        poll: PollPolicy | None = None,
        raise_on_failure: bool = True,
    ) -> JobStatus:
        """Poll `job` until it is done, failed or canceled; see `AsyncJob.wait`."""
        waiter = self._waiter(job, timeout, on_update, poll, raise_on_failure)
        while True:
            outcome: JobStatus | BaseException
            try:
                call = self._status_call(job.request_id, job.model)
                outcome = await self._send(call, deadline=waiter.deadline)
            except Exception as exc:  # the waiter decides: ride out transient, raise the rest
                outcome = exc
            delay = waiter.feed(outcome, time.monotonic())
            if delay is None:
                assert waiter.final is not None
                return waiter.final
            await sleep(delay)

    async def run(
        self,
        model: str,
        payload: Mapping[str, Any],
        *,
        priority: int = 0,
        info: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        on_update: UpdateCallback | None = None,
    ) -> dict[str, Any]:
        """Submit a job and wait for it; return its outputs (raises `JobFailed` if it fails)."""
        job = await self.submit(model, payload, priority=priority, info=info)
        status = await self.wait(job, timeout=timeout, on_update=on_update)
        return status.outputs or {}

    def submit_iter(
        self,
        items: Iterable[JobRequest | Mapping[str, Any]],
        *,
        model: str | None = None,
        priority: int = 0,
        info: Mapping[str, Any] | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        adaptive: bool = True,
    ) -> AsyncSubmitStream[AsyncJob, Item]:
        """Submit from any iterable, streaming: each item's Outcome as its submit completes.

        Items are pulled only as slots free up (a generator of a million payloads is
        fine): memory stays O(concurrency). At most `concurrency` submits are in
        flight; with `adaptive`, fewer after a 429 (see `AdaptiveLimit`), and a submit
        the service refused with 429 is sent again. Use the stream as a context manager:
        on an error, Ctrl-C or a cancellation no new submit starts, those in flight
        finish, and the outcomes not yet yielded are attached to the exception as
        `exc.outcomes`.
        """
        from together_queue._bulk import AsyncSubmitStream  # on first use: see the imports

        limit = _validate.positive_int(concurrency, "concurrency")
        checked = payloads_need_model(items, model)
        return AsyncSubmitStream(
            checked, self._item_sender(model, priority, info), concurrency=limit, adaptive=adaptive
        )

    async def submit_many(
        self,
        items: Iterable[JobRequest | Mapping[str, Any]],
        *,
        model: str | None = None,
        priority: int = 0,
        info: Mapping[str, Any] | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        adaptive: bool = True,
    ) -> list[Outcome[AsyncJob, Item]]:
        """Submit every item (a payload for `model`, or a `JobRequest`); Outcomes in input order.

        A convenience over `submit_iter`. On an error or Ctrl-C, no new submit
        starts, those in flight finish, and the exception carries `exc.outcomes`:
        every item's Outcome so far, so no stored job is lost.
        """
        from together_queue._bulk import arun_many  # on first use: see the imports

        limit = _validate.positive_int(concurrency, "concurrency")
        checked = payloads_need_model(items, model)
        return await arun_many(
            checked, self._item_sender(model, priority, info), limit, adaptive=adaptive
        )

    def _item_sender(
        self, model: str | None, priority: int, info: Mapping[str, Any] | None
    ) -> Callable[[Item, SendObserver], Awaitable[AsyncJob]]:
        async def send(item: Item, observer: SendObserver) -> AsyncJob:
            call = self._item_call(item, model, priority, info)
            from together_queue.jobs import AsyncJob  # on first use: see the imports

            request_id = await self._send(call, observer=observer)
            return AsyncJob(request_id, model=call.model, client=self)

        return send

    def as_completed(
        self,
        jobs: Iterable[AsyncJob],
        *,
        timeout: float | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        on_update: Callable[[AsyncJob, JobStatus], object] | None = None,
        poll: PollPolicy | None = None,
    ) -> AsyncIterator[Outcome[JobStatus, AsyncJob]]:
        """Yield each job's final status as it finishes (failed jobs too; errors as Outcomes).

        `jobs` is read lazily (any iterable; memory follows `concurrency`, not its
        length); `index` is a job's position in it. `timeout` bounds the whole wait,
        retries included. `on_update(job, status)` is called for every observed change.
        """

        async def fetch(job: AsyncJob, deadline: float | None) -> JobStatus:
            return await self._send(self._status_call(job.request_id, job.model), deadline=deadline)

        from together_queue._bulk import aiter_completed  # on first use: see the imports

        return aiter_completed(
            jobs,
            fetch,
            policy=poll or self._poll,
            timeout=_validate.optional_seconds(timeout, "timeout"),
            concurrency=_validate.positive_int(concurrency, "concurrency"),
            on_update=on_update,
        )

    async def wait_all(
        self,
        jobs: Iterable[AsyncJob],
        *,
        timeout: float | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        on_update: Callable[[AsyncJob, JobStatus], object] | None = None,
        poll: PollPolicy | None = None,
    ) -> list[Outcome[JobStatus, AsyncJob]]:
        """Wait for every job; one Outcome each, in input order (see `as_completed`)."""
        stream = self.as_completed(
            jobs, timeout=timeout, concurrency=concurrency, on_update=on_update, poll=poll
        )
        outcomes = [outcome async for outcome in stream]
        return sorted(outcomes, key=lambda outcome: outcome.index)

    async def download(
        self,
        url: str,
        dest: Dest,
        *,
        on_progress: ProgressCallback | None = None,
        overwrite: bool = False,
    ) -> Path:
        """Download a file output at `url` to `dest` (a file, or a folder); return the file.

        The API key goes only to the API's own origin, never across a redirect to another;
        the body streams into a temporary file that becomes the file once complete. In a
        folder the file is named after `url` itself, never after a redirect; a name with a
        leading dot or a control character is a `ConfigurationError`. An existing file is
        a `FileExistsError` unless `overwrite=True`.
        `on_progress(received, total)` follows each chunk (total None when unknown).
        """
        from together_queue._async import download  # on first use: see the imports

        return await download.download(
            self._http,
            self._auth,
            self.base_url,
            url,
            dest,
            timeout=self._request_timeout,
            on_progress=on_progress,
            overwrite=overwrite,
        )
