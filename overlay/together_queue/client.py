"""QueueClient and AsyncQueueClient: one vocabulary, sync and async; only `await` differs.

Requests are built and responses parsed by `_calls` (through the generated
`together_queue_api`); retries are decided by `_retry`; waiting by `_polling`;
bulk work by `_bulk`. The classes here only send, sleep and hand results back.
"""

from __future__ import annotations

import copy
import itertools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final, Generic, Self, TypeVar

import httpx

from together_queue import _validate
from together_queue._auth import BearerAuth, origin_of
from together_queue._config import (
    API_KEY_ENV,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    USER_AGENT,
    ClientConfig,
    TimeoutTypes,
    resolve_config,
    to_timeout,
)
from together_queue._retry import (
    RetryPolicy,
    RetryState,
    SendObserver,
    cap_timeout,
    parse_retry_after,
    remaining_seconds,
)
from together_queue.errors import AuthenticationError, TogetherQueueError

# Startup (issue 14): `from together_queue import QueueClient` loads only what building a
# client needs (httpx, the config, auth and retry rules: no attrs). The modules below load
# on first use, inside the methods that need them: `_calls` and the generated layer with
# the first request, `_models`/`jobs`/`_polling` (attrs classes) with the first result,
# handle or wait, `_bulk` and `_download` with the first bulk call or download.
if TYPE_CHECKING:
    from pathlib import Path

    from together_queue._bulk import AsyncSubmitStream, SubmitStream
    from together_queue._calls import Call
    from together_queue._download import Dest, ProgressCallback
    from together_queue._models import CancelResult, ClearResult, JobStatus, Outcome, QueueMetrics
    from together_queue._polling import PollPolicy, Waiter
    from together_queue.jobs import AsyncJob, Job, JobRequest, UpdateCallback

    #: What a bulk submit takes: a payload for `model=`, or a full `JobRequest`.
    Item = JobRequest | Mapping[str, Any]

__all__ = ["AsyncQueueClient", "QueueClient"]

logger = logging.getLogger("together_queue")
T = TypeVar("T")
HttpT = TypeVar("HttpT", httpx.Client, httpx.AsyncClient)
DEFAULT_CONCURRENCY = 16
# Sent with every request; the key is not here: BearerAuth adds it while httpx sends.
_HEADERS: Final = {"User-Agent": USER_AGENT, "Accept": "application/json"}


class _NotGiven:
    """Marks an argument the caller left out (None means "no timeout")."""

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN = _NotGiven()


class _ClientBase(Generic[HttpT]):
    """Configuration, validation and call building shared by both clients."""

    _http_type: type[HttpT]

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: TimeoutTypes | _NotGiven = NOT_GIVEN,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry_submits: bool = False,
        allow_insecure_http: bool = False,
        poll: PollPolicy | None = None,
        http_client: HttpT | None = None,
    ) -> None:
        self._config: ClientConfig = resolve_config(
            api_key=api_key,
            base_url=base_url,
            timeout=DEFAULT_TIMEOUT if isinstance(timeout, _NotGiven) else timeout,
            max_retries=max_retries,
            retry_submits=retry_submits,
            allow_insecure_http=allow_insecure_http,
        )
        if http_client is not None and not isinstance(http_client, self._http_type):
            raise TypeError(
                f"http_client must be an {self._http_type.__module__}.{self._http_type.__name__}, "
                f"got {type(http_client).__name__}"
            )
        from together_queue._polling import PollPolicy  # on first use: see the imports

        if poll is not None and not isinstance(poll, PollPolicy):
            raise TypeError(f"poll must be a PollPolicy, got {type(poll).__name__}")
        self._retry_policy = RetryPolicy(max_retries=self._config.max_retries)
        self._poll = poll or PollPolicy()
        # A user's own http client keeps its own timeout unless one was passed here.
        explicit = http_client is None or not isinstance(timeout, _NotGiven)
        self._request_timeout: httpx.Timeout | Any = (
            self._config.timeout if explicit else httpx.USE_CLIENT_DEFAULT
        )
        self._owns_http = http_client is None
        self._http: HttpT = http_client if http_client is not None else self._new_http()
        # The key goes out through this object only, and only to the API's own origin.
        self._auth = BearerAuth(self._config.api_key, origin_of(httpx.URL(self.base_url)))

    def _new_http(self) -> HttpT:
        # httpx's default pool limits: more kept-alive connections cost httpcore CPU on
        # every request (it scans the pool), which bench/ measured as a 1.6x slowdown.
        return self._http_type(
            timeout=self._config.timeout,
            follow_redirects=False,  # a redirect must never carry the key to another host
            mounts=self._direct_mounts(),
        )

    def _direct_mounts(self) -> dict[str, Any] | None:
        """A proxy-free transport for a loopback base URL.

        An `HTTP(S)_PROXY` in the environment would otherwise receive every request to a
        local emulator, key included, in clear text. The transport still reads
        `SSL_CERT_FILE`/`SSL_CERT_DIR` (its `trust_env` only concerns certificates), so a
        TLS emulator with its own CA keeps working.
        """
        if not self._config.loopback:
            return None
        host = httpx.URL(self.base_url).host
        pattern = f"all://[{host}]" if ":" in host else f"all://{host}"
        transport = (
            httpx.HTTPTransport()
            if self._http_type is httpx.Client
            else (httpx.AsyncHTTPTransport())
        )
        return {pattern: transport}

    @property
    def base_url(self) -> str:
        """The API root every request goes to, ending in `/v1`."""
        return self._config.base_url

    @property
    def max_retries(self) -> int:
        """How many times a safe call is retried after a transient failure."""
        return self._config.max_retries

    @property
    def poll_policy(self) -> PollPolicy:
        """The default polling policy of `wait()` and the bulk helpers."""
        return self._poll

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self.base_url!r}, "
            f"api_key={'***' if self._config.api_key else None}, "
            f"max_retries={self.max_retries})"
        )

    def with_options(
        self,
        *,
        timeout: TimeoutTypes | _NotGiven = NOT_GIVEN,
        max_retries: int | None = None,
        retry_submits: bool | None = None,
        poll: PollPolicy | None = None,
    ) -> Self:
        """A client with some options changed, sharing this one's connection pool.

        The copy never closes the shared pool; close the original when done.
        """
        clone = copy.copy(self)
        config = self._config
        if not isinstance(timeout, _NotGiven):
            config = config._replace(timeout=to_timeout(timeout))
            clone._request_timeout = config.timeout
        if max_retries is not None:
            config = config._replace(
                max_retries=_validate.non_negative_int(max_retries, "max_retries")
            )
        if retry_submits is not None:
            config = config._replace(retry_submits=bool(retry_submits))
        clone._config = config
        clone._retry_policy = RetryPolicy(max_retries=config.max_retries)
        clone._poll = poll or self._poll
        clone._owns_http = False
        return clone

    # -- building calls (validation happens here, before any I/O) --------------------

    def _attempt_timeout(self, remaining: float | None) -> httpx.Timeout | Any:
        """The timeout of one attempt: the configured one, cut to the time left (if any)."""
        if remaining is None:
            return self._request_timeout
        configured = self._request_timeout
        if not isinstance(configured, httpx.Timeout):  # the caller's own client's default
            configured = self._http.timeout
        return cap_timeout(configured, remaining)

    def _final(self, call: Call[T], state: RetryState, response: httpx.Response) -> T:
        """Parse the final response; a failure goes through the retry rules' one seam."""
        try:
            return call.parse(response)
        except TogetherQueueError as exc:
            settled = state.settle(exc)
            self._explain(settled)
            if settled is exc:
                raise
            raise settled from exc

    def _explain(self, error: BaseException) -> None:
        """Add what the client knows and the service cannot say (why no key was sent)."""
        if isinstance(error, AuthenticationError) and self._config.api_key is None:
            error.hint = (
                f"no API key was sent: {API_KEY_ENV} is not sent to a loopback base_url "
                "given in code; pass api_key=..."
                if self._config.env_key_withheld
                else "no API key was sent: pass api_key=... or set " + API_KEY_ENV
            )

    def _retry_state(self, call: Call[Any], url: str) -> RetryState:
        return RetryState(
            operation=call.operation,
            policy=self._retry_policy,
            retry_submits=self._config.retry_submits,
            method=call.method,
            url=url,
            model=call.model,
        )

    @staticmethod
    def _submit_call(
        model: str, payload: Mapping[str, Any], priority: int, info: Mapping[str, Any] | None
    ) -> Call[str]:
        from together_queue import _calls  # on first use: see the imports

        return _calls.submit_call(
            _validate.model_name(model),
            _validate.json_object(payload, "payload"),
            _validate.priority(priority),
            _validate.optional_json_object(info, "info"),
        )

    @staticmethod
    def _item_call(
        item: JobRequest | Mapping[str, Any],
        model: str | None,
        priority: int,
        info: Mapping[str, Any] | None,
    ) -> Call[str]:
        from together_queue.jobs import JobRequest  # on first use: see the imports

        if isinstance(item, JobRequest):
            return _ClientBase._submit_call(item.model, item.payload, item.priority, item.info)
        if model is None:
            raise TypeError("submit_many needs model=... when items are payloads, not JobRequests")
        return _ClientBase._submit_call(model, item, priority, info)

    @staticmethod
    def _status_call(request_id: str, model: str) -> Call[JobStatus]:
        from together_queue import _calls  # on first use: see the imports

        return _calls.status_call(_validate.request_id(request_id), _validate.model_name(model))

    @staticmethod
    def _cancel_call(request_id: str, model: str) -> Call[CancelResult]:
        from together_queue import _calls  # on first use: see the imports

        return _calls.cancel_call(_validate.request_id(request_id), _validate.model_name(model))

    @staticmethod
    def _metrics_call(model: str) -> Call[QueueMetrics]:
        from together_queue import _calls  # on first use: see the imports

        return _calls.metrics_call(_validate.model_name(model))

    @staticmethod
    def _clear_call(model: str) -> Call[ClearResult]:
        from together_queue import _calls  # on first use: see the imports

        return _calls.clear_call(_validate.model_name(model))

    def _waiter(
        self,
        job: Job | AsyncJob,
        timeout: float | None,
        on_update: UpdateCallback | None,
        poll: PollPolicy | None,
        raise_on_failure: bool,
    ) -> Waiter:
        seconds = _validate.optional_seconds(timeout, "timeout")
        from together_queue._polling import Waiter  # on first use: see the imports

        return Waiter(
            label=f"job {job.request_id} ({job.model})",
            policy=poll or self._poll,
            deadline=None if seconds is None else time.monotonic() + seconds,
            on_update=on_update,
            raise_on_failure=raise_on_failure,
        )


class QueueClient(_ClientBase[httpx.Client]):
    """Synchronous client for the Together Queue API.

    `api_key` defaults to `TOGETHER_API_KEY` (optional for a loopback emulator);
    `base_url` to `TOGETHER_BASE_URL`, else `https://api.together.ai/v1` (with or
    without `/v1`). `max_retries` applies to safe calls; submits are retried
    only when they certainly did not reach the service, unless `retry_submits`.
    A given `http_client` is used as-is and is not closed by this client.
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

    def _send(
        self,
        call: Call[T],
        *,
        deadline: float | None = None,
        observer: SendObserver | None = None,
    ) -> T:
        """Send `call` with retries, all within `deadline` (a `time.monotonic()` value)."""
        kwargs = call.request_kwargs(self.base_url, _HEADERS)
        state = self._retry_state(call, kwargs["url"])
        while True:
            remaining = remaining_seconds(deadline)
            if remaining is not None and remaining <= 0:
                raise state.out_of_time()
            started = time.perf_counter()
            delay: float | None
            try:
                response = self._http.request(
                    **kwargs, auth=self._auth, timeout=self._attempt_timeout(remaining)
                )
            except httpx.RequestError as exc:
                delay = state.on_exception(exc, remaining_seconds(deadline))
                _log_retry(call, state.attempt, delay, type(exc).__name__)
            else:
                _log_response(call, response, started)
                _observe(observer, response)
                delay = state.on_response(response, remaining_seconds(deadline))
                if delay is None:
                    return self._final(call, state, response)
                _log_retry(call, state.attempt, delay, f"HTTP {response.status_code}")
            time.sleep(delay)

    def submit(
        self,
        model: str,
        payload: Mapping[str, Any],
        *,
        priority: int = 0,
        info: Mapping[str, Any] | None = None,
    ) -> Job:
        """Queue a job for `model`; return its handle. Not resent on an ambiguous failure."""
        call = self._submit_call(model, payload, priority, info)
        from together_queue.jobs import Job  # on first use: see the imports

        return Job(self._send(call), model=call.model, client=self)

    def status(self, request_id: str, *, model: str) -> JobStatus:
        """The current status of a job."""
        return self._send(self._status_call(request_id, model))

    def cancel(self, request_id: str, *, model: str) -> CancelResult:
        """Cancel a pending job; a job already running or finished is reported, not an error."""
        return self._send(self._cancel_call(request_id, model))

    def metrics(self, model: str) -> QueueMetrics:
        """Queue depth for `model`: waiting, running, total."""
        return self._send(self._metrics_call(model))

    def clear(self, model: str) -> ClearResult:
        """Cancel every pending job of `model`; running jobs are left to finish.

        Retried only when the service certainly did not act (connection never made, or
        429), so `canceled_count` is exact: a repeat after an attempt that may have
        acted would count only what it canceled itself. Any other failure raises;
        calling again is safe (clearing twice has the effect of clearing once).
        """
        return self._send(self._clear_call(model))

    def job(self, request_id: str, *, model: str) -> Job:
        """A handle for a job submitted earlier (possibly by another process)."""
        from together_queue.jobs import Job  # on first use: see the imports

        return Job(request_id, model=model, client=self)

    def wait(
        self,
        job: Job,
        *,
        timeout: float | None = None,
        on_update: UpdateCallback | None = None,
        poll: PollPolicy | None = None,
        raise_on_failure: bool = True,
    ) -> JobStatus:
        """Poll `job` until it is done, failed or canceled; see `Job.wait`."""
        waiter = self._waiter(job, timeout, on_update, poll, raise_on_failure)
        while True:
            outcome: JobStatus | BaseException
            try:
                call = self._status_call(job.request_id, job.model)
                outcome = self._send(call, deadline=waiter.deadline)
            except Exception as exc:  # the waiter decides: ride out transient, raise the rest
                outcome = exc
            delay = waiter.feed(outcome, time.monotonic())
            if delay is None:
                assert waiter.final is not None
                return waiter.final
            time.sleep(delay)

    def run(
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
        job = self.submit(model, payload, priority=priority, info=info)
        return self.wait(job, timeout=timeout, on_update=on_update).outputs or {}

    def submit_iter(
        self,
        items: Iterable[JobRequest | Mapping[str, Any]],
        *,
        model: str | None = None,
        priority: int = 0,
        info: Mapping[str, Any] | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        adaptive: bool = True,
    ) -> SubmitStream[Job, Item]:
        """Submit from any iterable, streaming: each item's Outcome as its submit completes.

        Items are pulled only as slots free up (a generator of a million payloads is
        fine): memory stays O(concurrency). At most `concurrency` submits are in
        flight; with `adaptive`, fewer after a 429 (see `AdaptiveLimit`), and a submit
        the service refused with 429 is sent again. Use it in a `with` block: on an
        error or Ctrl-C no new submit starts, those in flight finish, and the outcomes
        not yet yielded are attached to the exception as `exc.outcomes`.
        """
        from together_queue._bulk import SubmitStream  # on first use: see the imports

        limit = _validate.positive_int(concurrency, "concurrency")
        checked = _payloads_need_model(items, model)
        return SubmitStream(
            checked, self._item_sender(model, priority, info), concurrency=limit, adaptive=adaptive
        )

    def submit_many(
        self,
        items: Iterable[JobRequest | Mapping[str, Any]],
        *,
        model: str | None = None,
        priority: int = 0,
        info: Mapping[str, Any] | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        adaptive: bool = True,
    ) -> list[Outcome[Job, Item]]:
        """Submit every item (a payload for `model`, or a `JobRequest`); Outcomes in input order.

        A convenience over `submit_iter`. On an error or Ctrl-C, no new submit
        starts, those in flight finish, and the exception carries `exc.outcomes`:
        every item's Outcome so far, so no stored job is lost.
        """
        from together_queue._bulk import run_many  # on first use: see the imports

        limit = _validate.positive_int(concurrency, "concurrency")
        checked = _payloads_need_model(items, model)
        return run_many(checked, self._item_sender(model, priority, info), limit, adaptive=adaptive)

    def _item_sender(
        self, model: str | None, priority: int, info: Mapping[str, Any] | None
    ) -> Callable[[Item, SendObserver], Job]:
        def send(item: Item, observer: SendObserver) -> Job:
            call = self._item_call(item, model, priority, info)
            from together_queue.jobs import Job  # on first use: see the imports

            return Job(self._send(call, observer=observer), model=call.model, client=self)

        return send

    def as_completed(
        self,
        jobs: Iterable[Job],
        *,
        timeout: float | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        on_update: Callable[[Job, JobStatus], object] | None = None,
        poll: PollPolicy | None = None,
    ) -> Iterator[Outcome[JobStatus, Job]]:
        """Yield each job's final status as it finishes (failed jobs too; errors as Outcomes).

        `jobs` is read lazily (any iterable; memory follows `concurrency`, not its
        length); `index` is a job's position in it. `timeout` bounds the whole wait,
        retries included. `on_update(job, status)` is called for every observed change.
        """
        from together_queue._bulk import iter_completed  # on first use: see the imports

        return iter_completed(
            jobs,
            lambda job, deadline: self._send(
                self._status_call(job.request_id, job.model), deadline=deadline
            ),
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
    ) -> list[Outcome[JobStatus, Job]]:
        """Wait for every job; one Outcome each, in input order (see `as_completed`)."""
        outcomes = self.as_completed(
            jobs, timeout=timeout, concurrency=concurrency, on_update=on_update, poll=poll
        )
        return sorted(outcomes, key=lambda outcome: outcome.index)

    def download(
        self, url: str, dest: Dest, *, on_progress: ProgressCallback | None = None
    ) -> Path:
        """Download a file output at `url` to `dest` (a file, or a folder); return the file.

        The API key goes only to the API's own origin, never across a redirect to another;
        the body streams into a temporary file renamed over `dest` once complete.
        `on_progress(received, total)` follows each chunk (total None when unknown).
        """
        from together_queue._download import download_sync  # on first use: see the imports

        return download_sync(
            self._http,
            self._auth,
            self.base_url,
            url,
            dest,
            timeout=self._request_timeout,
            on_progress=on_progress,
        )


class AsyncQueueClient(_ClientBase[httpx.AsyncClient]):
    """Asynchronous twin of `QueueClient`: same arguments, same methods, awaited."""

    _http_type = httpx.AsyncClient

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
        """Send `call` with retries, all within `deadline`; see `QueueClient._send`."""
        kwargs = call.request_kwargs(self.base_url, _HEADERS)
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
                _log_retry(call, state.attempt, delay, type(exc).__name__)
            else:
                _log_response(call, response, started)
                _observe(observer, response)
                delay = state.on_response(response, remaining_seconds(deadline))
                if delay is None:
                    return self._final(call, state, response)
                _log_retry(call, state.attempt, delay, f"HTTP {response.status_code}")
            await _async_sleep(delay)

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
        """Poll `job` until it is done, failed or canceled; see `Job.wait`."""
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
            await _async_sleep(delay)

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
        """Submit from any iterable, streaming (`async for`); see `QueueClient.submit_iter`.

        Use it in an `async with` block: on an error or a cancellation, the submits in
        flight are awaited (no task outlives it) and their outcomes attached to the
        exception as `exc.outcomes`.
        """
        from together_queue._bulk import AsyncSubmitStream  # on first use: see the imports

        limit = _validate.positive_int(concurrency, "concurrency")
        checked = _payloads_need_model(items, model)
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
        """Submit every item; Outcomes in input order (see `QueueClient.submit_many`)."""
        from together_queue._bulk import arun_many  # on first use: see the imports

        limit = _validate.positive_int(concurrency, "concurrency")
        checked = _payloads_need_model(items, model)
        return await arun_many(
            checked, self._item_sender(model, priority, info), limit, adaptive=adaptive
        )

    def _item_sender(
        self, model: str | None, priority: int, info: Mapping[str, Any] | None
    ) -> Callable[[Item, SendObserver], Awaitable[AsyncJob]]:
        async def send(item: Item, observer: SendObserver) -> AsyncJob:
            call = self._item_call(item, model, priority, info)
            from together_queue.jobs import AsyncJob  # on first use: see the imports

            return AsyncJob(
                await self._send(call, observer=observer), model=call.model, client=self
            )

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
        """Yield (async) each job's final status as it finishes; see `QueueClient.as_completed`."""

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
        """Wait for every job; one Outcome each, in input order."""
        stream = self.as_completed(
            jobs, timeout=timeout, concurrency=concurrency, on_update=on_update, poll=poll
        )
        outcomes = [outcome async for outcome in stream]
        return sorted(outcomes, key=lambda outcome: outcome.index)

    async def download(
        self, url: str, dest: Dest, *, on_progress: ProgressCallback | None = None
    ) -> Path:
        """Download a file output at `url` to `dest` (a file, or a folder); return the file.

        The API key goes only to the API's own origin, never across a redirect to another;
        the body streams into a temporary file renamed over `dest` once complete.
        `on_progress(received, total)` follows each chunk (total None when unknown).
        """
        from together_queue._download import download_async  # on first use: see the imports

        return await download_async(
            self._http,
            self._auth,
            self.base_url,
            url,
            dest,
            timeout=self._request_timeout,
            on_progress=on_progress,
        )


def _payloads_need_model(items: Iterable[Item], model: str | None) -> Iterable[Item]:
    """`items` unchanged; TypeError at once (nothing sent) if they are payloads and no model.

    The first item decides (it is put back): a batch of payloads without `model=`
    fails once, here, instead of once per item.
    """
    if model is not None:
        return items
    source = iter(items)
    first = next(source, _END)
    if first is _END:
        return ()
    from together_queue.jobs import JobRequest  # on first use: see the imports

    if not isinstance(first, JobRequest):
        raise TypeError(
            "submit_many/submit_iter need model=... when the items are payloads, not JobRequests"
        )
    return itertools.chain((first,), source)


_END: Final[Any] = object()


async def _async_sleep(seconds: float) -> None:
    # asyncio is imported here, not at the top: sync users should not pay for loading it.
    import asyncio

    await asyncio.sleep(seconds)


def _observe(observer: SendObserver | None, response: httpx.Response) -> None:
    if observer is None:
        return
    if response.status_code == 429:
        observer.on_rate_limited(parse_retry_after(response.headers.get("retry-after")))
    elif 200 <= response.status_code < 300:
        observer.on_success()


def _log_response(call: Call[Any], response: httpx.Response, started: float) -> None:
    if logger.isEnabledFor(logging.DEBUG):
        elapsed = (time.perf_counter() - started) * 1000
        logger.debug("%s %s -> %d (%.1f ms)", call.method, call.path, response.status_code, elapsed)


def _log_retry(call: Call[Any], attempt: int, delay: float, reason: str) -> None:
    logger.info(
        "retrying %s %s (retry %d) in %.2fs after %s",
        call.method,
        call.path,
        attempt,
        delay,
        reason,
    )
