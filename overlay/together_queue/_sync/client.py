# Generated from overlay/together_queue/_async/client.py by tools/unasync.py: do not edit.
# Edit the async source, then run `nox -s unasync`.
"""QueueClient: the synchronous client of the Together Queue API.

The decisions live in I/O-free modules (`_base_client`, `_calls`, `_retry`,
`_polling`, `_bulk`); this class only sends, sleeps and hands results back.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

import httpx

from together_queue import _lazy, _validate
from together_queue._base_client import (
    DEFAULT_CONCURRENCY,
    ClientBase,
    cancel_note,
    log_response,
    log_retry,
    observe,
    payloads_need_model,
    raw_response,
)
from together_queue._options import NOT_GIVEN, NotGiven, RequestOptions, request_options
from together_queue._retry import SendObserver, remaining_seconds
from together_queue._sync._io import sleep
from together_queue.errors import TogetherQueueError, WaitTimeout

if TYPE_CHECKING:
    from pathlib import Path

    from together_queue._base_client import Item
    from together_queue._bulk import SubmitStream
    from together_queue._calls import Call
    from together_queue._config import TimeoutTypes
    from together_queue._download import Dest, ProgressCallback
    from together_queue._models import CancelResult, ClearResult, JobStatus, Outcome, QueueMetrics
    from together_queue._polling import PollPolicy, Waiter
    from together_queue._raw import RawResponse
    from together_queue.jobs import Job, JobRequest, UpdateCallback

__all__ = ["QueueClient", "RawResponses"]

T = TypeVar("T")


class QueueClient(ClientBase[httpx.Client]):
    """Synchronous client for the Together Queue API.

    `api_key` defaults to `TOGETHER_API_KEY` (optional for a loopback emulator);
    `base_url` to `TOGETHER_BASE_URL`, else `https://api.together.ai/v1` (with or
    without `/v1`). `max_retries` applies to safe calls; submits are retried
    only when they certainly did not reach the service, unless `retry_submits`.
    A given `http_client` is used as-is and is not closed by this client
    (`default_http_client()` builds one with the library's defaults).
    `default_headers` go with every API request (never `Authorization`: the key goes
    only through `api_key`). `TOGETHER_LOG=debug|info` turns on the request log.
    """

    _http_type = httpx.Client

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool (unless it was passed in by the caller)."""
        if self._owns_http:
            self._http.close()

    @property
    def with_raw_response(self) -> RawResponses:
        """The single-request calls, returning the HTTP response with the value.

        `client.with_raw_response.status(request_id, model=...)` is a `RawResponse`:
        `status_code`, `headers`, `http_request_id`, `elapsed`, `retries_taken`, and
        `parse()`, the value `client.status(...)` returns.
        """
        return RawResponses(self)

    def _exchange(
        self,
        call: Call[T],
        *,
        deadline: float | None = None,
        observer: SendObserver | None = None,
        options: RequestOptions | None = None,
    ) -> tuple[T, httpx.Response, int]:
        """Send `call` with retries, all within `deadline` (a `time.monotonic()` value).

        Returns the parsed value, the final response and how many retries it took.
        """
        kwargs = self._request_kwargs(call, options)
        state = self._retry_state(call, self.base_url + call.path)
        while True:
            remaining = remaining_seconds(deadline)
            if remaining is not None and remaining <= 0:
                raise state.out_of_time()
            started = time.perf_counter()
            delay: float | None
            try:
                timeout = self._attempt_timeout(remaining, options)
                request = self._plain_request(kwargs, timeout)
                if request is None:
                    response = self._http.request(**kwargs, auth=self._auth, timeout=timeout)
                else:
                    response = self._http.send(request, auth=self._auth)
            except httpx.RequestError as exc:
                delay = state.on_exception(exc, remaining_seconds(deadline))
                log_retry(call, state, delay, type(exc).__name__, None)
            else:
                log_response(call, response, started)
                observe(observer, response)
                delay = state.on_response(response, remaining_seconds(deadline))
                if delay is None:
                    return self._parse_response(call, state, response), response, state.attempt
                log_retry(call, state, delay, f"HTTP {response.status_code}", response)
            sleep(delay)

    def _send(
        self,
        call: Call[T],
        *,
        deadline: float | None = None,
        observer: SendObserver | None = None,
        options: RequestOptions | None = None,
    ) -> T:
        """Send `call` with retries, all within `deadline`; return the parsed value."""
        value, _, _ = self._exchange(call, deadline=deadline, observer=observer, options=options)
        return value

    def submit(
        self,
        model: str,
        payload: Mapping[str, Any],
        *,
        priority: int = 0,
        info: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
    ) -> Job:
        """Queue a job for `model`; return its handle. Not resent on an ambiguous failure.

        `extra_headers`, `extra_query` and `extra_body` add to the request; `timeout`
        replaces the client's for it (see the configuration guide).
        """
        call = _lazy.calls.submit_call(model, payload, priority, info)
        options = request_options(
            extra_headers=extra_headers,
            extra_query=extra_query,
            extra_body=extra_body,
            timeout=timeout,
        )
        return self.job(self._send(call, options=options), model=call.model)

    def status(
        self,
        request_id: str,
        *,
        model: str,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
    ) -> JobStatus:
        """The current status of a job."""
        options = request_options(
            extra_headers=extra_headers, extra_query=extra_query, timeout=timeout
        )
        return self._send(_lazy.calls.status_call(request_id, model), options=options)

    def cancel(
        self,
        request_id: str,
        *,
        model: str,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
    ) -> CancelResult:
        """Cancel a pending job; a job already running or finished is reported, not an error."""
        options = request_options(
            extra_headers=extra_headers,
            extra_query=extra_query,
            extra_body=extra_body,
            timeout=timeout,
        )
        return self._send(_lazy.calls.cancel_call(request_id, model), options=options)

    def metrics(
        self,
        model: str,
        *,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
    ) -> QueueMetrics:
        """Queue depth for `model`: waiting, running, total."""
        options = request_options(
            extra_headers=extra_headers, extra_query=extra_query, timeout=timeout
        )
        return self._send(_lazy.calls.metrics_call(model), options=options)

    def clear(
        self,
        model: str,
        *,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
    ) -> ClearResult:
        """Cancel every pending job of `model`; running jobs are left to finish.

        Retried only when the service certainly did not act (connection never made, or
        429), so `canceled_count` is exact: a repeat after an attempt that may have
        acted would count only what it canceled itself. Any other failure raises;
        calling again is safe (clearing twice has the effect of clearing once).
        """
        options = request_options(
            extra_headers=extra_headers,
            extra_query=extra_query,
            extra_body=extra_body,
            timeout=timeout,
        )
        return self._send(_lazy.calls.clear_call(model), options=options)

    def job(self, request_id: str, *, model: str) -> Job:
        """A handle for a job submitted earlier (possibly by another process)."""
        return _lazy.jobs.Job(request_id, model=model, client=self)

    def wait(
        self,
        job: Job,
        *,
        timeout: float | None = None,
        on_update: UpdateCallback | None = None,
        poll: PollPolicy | None = None,
        raise_on_failure: bool = True,
        cancel_on_timeout: bool = False,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
    ) -> JobStatus:
        """Poll `job` until it is done, failed or canceled; return the final status.

        Raises `JobFailed`/`JobCanceled` (unless `raise_on_failure=False`) and
        `WaitTimeout` (carrying `job`) after `timeout` seconds; with
        `cancel_on_timeout=True` the job is canceled first (when still pending), and the
        exception's notes say how that went. `on_update` is called once per observed
        change of status or info. `extra_headers` and `extra_query` go with each poll.
        """
        options = request_options(extra_headers=extra_headers, extra_query=extra_query)
        waiter = self._waiter(job, timeout, on_update, poll, raise_on_failure)
        try:
            while True:
                outcome: JobStatus | BaseException
                try:
                    call = _lazy.calls.status_call(job.request_id, job.model)
                    outcome = self._send(call, deadline=waiter.deadline, options=options)
                except Exception as exc:  # the waiter decides: ride out transient, raise the rest
                    outcome = exc
                delay = waiter.feed(outcome, time.monotonic())
                if delay is None:
                    assert waiter.final is not None
                    return waiter.final
                sleep(delay)
        except WaitTimeout as timed_out:
            if cancel_on_timeout:
                self._cancel_after(timed_out, job, options)
            raise

    def _cancel_after(
        self, timed_out: WaitTimeout, job: Job, options: RequestOptions | None
    ) -> None:
        """Cancel `job` after its wait timed out; say in `timed_out`'s notes what happened."""
        try:
            call = _lazy.calls.cancel_call(job.request_id, job.model)
            result: CancelResult | TogetherQueueError = self._send(call, options=options)
        except TogetherQueueError as exc:
            result = exc
        timed_out.add_note(cancel_note(result))

    def updates(
        self,
        job: Job,
        *,
        timeout: float | None = None,
        poll: PollPolicy | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
    ) -> Iterator[JobStatus]:
        """Yield each observed change of `job`'s status, progress or info, until it is final.

        Polls as `wait()` does; the last status yielded is the final one (a failed or
        canceled job too: nothing is raised for it). Raises `WaitTimeout` (carrying
        `job`) after `timeout` seconds.
        """
        options = request_options(extra_headers=extra_headers, extra_query=extra_query)
        waiter = self._waiter(job, timeout, None, poll, raise_on_failure=False)
        return self._updates(job, waiter, options)

    def _updates(
        self, job: Job, waiter: Waiter, options: RequestOptions | None
    ) -> Iterator[JobStatus]:
        changes: list[JobStatus] = []
        waiter.on_update = changes.append
        while True:
            outcome: JobStatus | BaseException
            try:
                call = _lazy.calls.status_call(job.request_id, job.model)
                outcome = self._send(call, deadline=waiter.deadline, options=options)
            except Exception as exc:  # the waiter decides: ride out transient, raise the rest
                outcome = exc
            delay = waiter.feed(outcome, time.monotonic())
            while changes:
                yield changes.pop(0)
            if delay is None:
                return
            sleep(delay)

    def run(
        self,
        model: str,
        payload: Mapping[str, Any],
        *,
        priority: int = 0,
        info: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        on_update: UpdateCallback | None = None,
        cancel_on_timeout: bool = False,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Submit a job and wait for it; return its outputs (raises `JobFailed` if it fails).

        `timeout` bounds the wait (see `wait`, with `cancel_on_timeout`); the extras go
        with every request, `extra_body` with the submit.
        """
        job = self.submit(
            model,
            payload,
            priority=priority,
            info=info,
            extra_headers=extra_headers,
            extra_query=extra_query,
            extra_body=extra_body,
        )
        status = self.wait(
            job,
            timeout=timeout,
            on_update=on_update,
            cancel_on_timeout=cancel_on_timeout,
            extra_headers=extra_headers,
            extra_query=extra_query,
        )
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
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
    ) -> SubmitStream[Job, Item]:
        """Submit from any iterable, streaming: each item's Outcome as its submit completes.

        Items are pulled only as slots free up (a generator of a million payloads is
        fine): memory stays O(concurrency). At most `concurrency` submits are in
        flight; with `adaptive`, fewer after a 429 (see `AdaptiveLimit`), and a submit
        the service refused with 429 is sent again. Use the stream as a context manager:
        on an error, Ctrl-C or a cancellation no new submit starts, those in flight
        finish, and the outcomes not yet yielded are attached to the exception as
        `exc.outcomes`. The extras and `timeout` apply to every submit.
        """
        extras = (extra_headers, extra_query, extra_body, timeout)
        checked, send, limit = self._bulk_submit(items, model, priority, info, concurrency, *extras)
        return _lazy.bulk.SubmitStream(checked, send, concurrency=limit, adaptive=adaptive)

    def submit_many(
        self,
        items: Iterable[JobRequest | Mapping[str, Any]],
        *,
        model: str | None = None,
        priority: int = 0,
        info: Mapping[str, Any] | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        adaptive: bool = True,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
    ) -> list[Outcome[Job, Item]]:
        """Submit every item (a payload for `model`, or a `JobRequest`); Outcomes in input order.

        A convenience over `submit_iter`. On an error or Ctrl-C, no new submit
        starts, those in flight finish, and the exception carries `exc.outcomes`:
        every item's Outcome so far, so no stored job is lost. The extras and `timeout`
        apply to every submit.
        """
        extras = (extra_headers, extra_query, extra_body, timeout)
        checked, send, limit = self._bulk_submit(items, model, priority, info, concurrency, *extras)
        return _lazy.bulk.run_many(checked, send, limit, adaptive=adaptive)

    def _bulk_submit(
        self,
        items: Iterable[Item],
        model: str | None,
        priority: int,
        info: Mapping[str, Any] | None,
        concurrency: int,
        extra_headers: Mapping[str, str] | None,
        extra_query: Mapping[str, Any] | None,
        extra_body: Mapping[str, Any] | None,
        timeout: TimeoutTypes | NotGiven,
    ) -> tuple[Iterable[Item], Callable[[Item, SendObserver], Job], int]:
        """What both bulk submits check before sending: (items, the item sender, the limit)."""
        limit = _validate.positive_int(concurrency, "concurrency")
        options = request_options(
            extra_headers=extra_headers,
            extra_query=extra_query,
            extra_body=extra_body,
            timeout=timeout,
        )
        checked = payloads_need_model(items, model)
        return checked, self._item_sender(model, priority, info, options), limit

    def _item_sender(
        self,
        model: str | None,
        priority: int,
        info: Mapping[str, Any] | None,
        options: RequestOptions | None,
    ) -> Callable[[Item, SendObserver], Job]:
        def send(item: Item, observer: SendObserver) -> Job:
            call = _lazy.calls.item_call(item, model, priority, info)
            request_id = self._send(call, observer=observer, options=options)
            return self.job(request_id, model=call.model)

        return send

    def as_completed(
        self,
        jobs: Iterable[Job],
        *,
        timeout: float | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        on_update: Callable[[Job, JobStatus], object] | None = None,
        poll: PollPolicy | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
    ) -> Iterator[Outcome[JobStatus, Job]]:
        """Yield each job's final status as it finishes (failed jobs too; errors as Outcomes).

        `jobs` is read lazily (any iterable; memory follows `concurrency`, not its
        length); `index` is a job's position in it. `timeout` bounds the whole wait,
        retries included. `on_update(job, status)` is called for every observed change.
        `extra_headers` and `extra_query` go with every poll.
        """
        options = request_options(extra_headers=extra_headers, extra_query=extra_query)

        def fetch(job: Job, deadline: float | None, observer: SendObserver) -> JobStatus:
            call = _lazy.calls.status_call(job.request_id, job.model)
            return self._send(call, deadline=deadline, observer=observer, options=options)

        return _lazy.bulk.iter_completed(
            jobs,
            fetch,
            policy=poll or self._poll,
            timeout=_validate.optional_seconds(timeout, "timeout"),
            concurrency=_validate.positive_int(concurrency, "concurrency"),
            on_update=on_update,
        )

    def wait_all(
        self,
        jobs: Iterable[Job],
        *,
        timeout: float | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        on_update: Callable[[Job, JobStatus], object] | None = None,
        poll: PollPolicy | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
    ) -> list[Outcome[JobStatus, Job]]:
        """Wait for every job; one Outcome each, in input order (see `as_completed`)."""
        stream = self.as_completed(
            jobs,
            timeout=timeout,
            concurrency=concurrency,
            on_update=on_update,
            poll=poll,
            extra_headers=extra_headers,
            extra_query=extra_query,
        )
        outcomes = [outcome for outcome in stream]
        return sorted(outcomes, key=lambda outcome: outcome.index)

    def download(
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
        return _lazy.sync_download.download(
            self._http,
            self._auth,
            self.base_url,
            url,
            dest,
            timeout=self._request_timeout,
            on_progress=on_progress,
            overwrite=overwrite,
        )


class RawResponses:
    """`client.with_raw_response`: the single-request calls, each returning a `RawResponse`.

    Same arguments as the client's methods of the same names; `parse()` on the result
    is what the plain call returns. A call that fails raises as the plain call does.
    """

    __slots__ = ("_client",)

    def __init__(self, client: QueueClient) -> None:
        """The raw-response view of `client`."""
        self._client = client

    def submit(
        self,
        model: str,
        payload: Mapping[str, Any],
        *,
        priority: int = 0,
        info: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
    ) -> RawResponse[Job]:
        """`client.submit(...)`; `parse()` is the job's handle."""
        client = self._client
        call = _lazy.calls.submit_call(model, payload, priority, info)
        options = request_options(
            extra_headers=extra_headers,
            extra_query=extra_query,
            extra_body=extra_body,
            timeout=timeout,
        )
        request_id, response, retries = client._exchange(call, options=options)
        return raw_response(client.job(request_id, model=call.model), response, retries)

    def status(
        self,
        request_id: str,
        *,
        model: str,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
    ) -> RawResponse[JobStatus]:
        """`client.status(...)`; `parse()` is the `JobStatus`."""
        options = request_options(
            extra_headers=extra_headers, extra_query=extra_query, timeout=timeout
        )
        call = _lazy.calls.status_call(request_id, model)
        return raw_response(*self._client._exchange(call, options=options))

    def cancel(
        self,
        request_id: str,
        *,
        model: str,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
    ) -> RawResponse[CancelResult]:
        """`client.cancel(...)`; `parse()` is the `CancelResult`."""
        options = request_options(
            extra_headers=extra_headers,
            extra_query=extra_query,
            extra_body=extra_body,
            timeout=timeout,
        )
        call = _lazy.calls.cancel_call(request_id, model)
        return raw_response(*self._client._exchange(call, options=options))

    def metrics(
        self,
        model: str,
        *,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
    ) -> RawResponse[QueueMetrics]:
        """`client.metrics(...)`; `parse()` is the `QueueMetrics`."""
        options = request_options(
            extra_headers=extra_headers, extra_query=extra_query, timeout=timeout
        )
        call = _lazy.calls.metrics_call(model)
        return raw_response(*self._client._exchange(call, options=options))

    def clear(
        self,
        model: str,
        *,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
    ) -> RawResponse[ClearResult]:
        """`client.clear(...)`; `parse()` is the `ClearResult`."""
        options = request_options(
            extra_headers=extra_headers,
            extra_query=extra_query,
            extra_body=extra_body,
            timeout=timeout,
        )
        call = _lazy.calls.clear_call(model)
        return raw_response(*self._client._exchange(call, options=options))
