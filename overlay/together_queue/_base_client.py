"""What `QueueClient` and `AsyncQueueClient` share: configuration, validation, call building.

Requests are built and responses parsed by `_calls` (through the generated
`together_queue_api`); retries are decided by `_retry`; waiting by `_polling`;
bulk work by `_bulk`. Nothing here sends or sleeps: the async client
(`_async/client.py`) and the sync one generated from it do.
"""

from __future__ import annotations

import copy
import itertools
import logging
import time
from collections.abc import Iterable, Mapping
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
)
from together_queue.errors import AuthenticationError, TogetherQueueError

if TYPE_CHECKING:
    from together_queue._calls import Call
    from together_queue._models import CancelResult, ClearResult, JobStatus, QueueMetrics
    from together_queue._polling import PollPolicy, Waiter
    from together_queue.jobs import AsyncJob, Job, JobRequest, UpdateCallback

    #: What a bulk submit takes: a payload for `model=`, or a full `JobRequest`.
    Item = JobRequest | Mapping[str, Any]

logger = logging.getLogger("together_queue")
T = TypeVar("T")
HttpT = TypeVar("HttpT", httpx.Client, httpx.AsyncClient)
DEFAULT_CONCURRENCY = 16
# Sent with every request; the key is not here: BearerAuth adds it while httpx sends.
HEADERS: Final = {"User-Agent": USER_AGENT, "Accept": "application/json"}


class _NotGiven:
    """Marks an argument the caller left out (None means "no timeout")."""

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN = _NotGiven()


class ClientBase(Generic[HttpT]):
    """Configuration, validation and call building shared by both clients."""

    _http_type: type[HttpT]
    # The transport of a loopback base URL, which bypasses any proxy (see `_direct_mounts`).
    _direct_transport: type[httpx.HTTPTransport] | type[httpx.AsyncHTTPTransport]

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
        # every request (it scans the pool); bench/ measures the difference.
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
        return {pattern: self._direct_transport()}

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
            return ClientBase._submit_call(item.model, item.payload, item.priority, item.info)
        if model is None:
            raise TypeError("submit_many needs model=... when items are payloads, not JobRequests")
        return ClientBase._submit_call(model, item, priority, info)

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


def payloads_need_model(items: Iterable[Item], model: str | None) -> Iterable[Item]:
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


def observe(observer: SendObserver | None, response: httpx.Response) -> None:
    """Tell a bulk helper's observer what `response` says about load (429 or success)."""
    if observer is None:
        return
    if response.status_code == 429:
        observer.on_rate_limited(parse_retry_after(response.headers.get("retry-after")))
    elif 200 <= response.status_code < 300:
        observer.on_success()


def log_response(call: Call[Any], response: httpx.Response, started: float) -> None:
    """Log one exchange at DEBUG: method, path, status, milliseconds since `started`."""
    if logger.isEnabledFor(logging.DEBUG):
        elapsed = (time.perf_counter() - started) * 1000
        logger.debug("%s %s -> %d (%.1f ms)", call.method, call.path, response.status_code, elapsed)


def log_retry(call: Call[Any], attempt: int, delay: float, reason: str) -> None:
    """Log at INFO that `call` is retried in `delay` seconds, and why."""
    logger.info(
        "retrying %s %s (retry %d) in %.2fs after %s",
        call.method,
        call.path,
        attempt,
        delay,
        reason,
    )
