"""What `QueueClient` and `AsyncQueueClient` share: configuration, validation, call building.

Requests are built and responses parsed by `_calls` (through the generated
`together_queue_api`); retries are decided by `_retry`; waiting by `_polling`;
bulk work by `_bulk`. Nothing here sends or sleeps: the async client
(`_async/client.py`) and the sync one generated from it do.
"""

from __future__ import annotations

import copy
import itertools
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final, Generic, Self, TypeAlias, TypeVar

import httpx

from together_queue import _lazy, _logging, _validate
from together_queue._auth import BearerAuth, origin_of
from together_queue._config import (
    API_KEY_ENV,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    USER_AGENT,
    ClientConfig,
    Secret,
    TimeoutTypes,
    resolve_config,
    to_timeout,
)
from together_queue._http_client import LOOPBACK_HOSTS, build_http_client
from together_queue._options import NOT_GIVEN, NotGiven, RequestOptions, check_headers
from together_queue._raw import RawResponse
from together_queue._retry import (
    RetryPolicy,
    RetryState,
    SendObserver,
    cap_timeout,
)
from together_queue.errors import AuthenticationError, TogetherQueueError, retry_after

if TYPE_CHECKING:
    from together_queue._calls import Call
    from together_queue._models import CancelResult
    from together_queue._polling import PollPolicy, Waiter
    from together_queue.jobs import AsyncJob, Job, JobRequest, UpdateCallback

    #: What a bulk submit takes: a payload for `model=`, or a full `JobRequest`.
    Item: TypeAlias = JobRequest | Mapping[str, Any]

T = TypeVar("T")
HttpT = TypeVar("HttpT", httpx.Client, httpx.AsyncClient)
DEFAULT_CONCURRENCY = 16
# Sent with every request; the key is not here: BearerAuth adds it while httpx sends.
HEADERS: Final = {"User-Agent": USER_AGENT, "Accept": "application/json"}
#: The headers the generated operations give a JSON body (see `Call.plain_request_kwargs`).
JSON_CONTENT_TYPE: Final = {"Content-Type": "application/json"}
# The arguments of a request `_plain_request` can build without httpx's `build_request`.
_PLAIN_KEYS: Final = frozenset({"method", "url", "headers"})
_BODY_KEYS: Final = frozenset({"method", "url", "headers", "content"})
_MAX_PARSED_URLS: Final = 32
# Our headers as `httpx.Headers`, and with a JSON content type (`_prepared_headers`).
_Prepared: TypeAlias = tuple[httpx.Headers, httpx.Headers]


class ClientBase(Generic[HttpT]):
    """Configuration, validation and call building shared by both clients."""

    _http_type: type[HttpT]

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry_submits: bool = False,
        allow_insecure_http: bool = False,
        poll: PollPolicy | None = None,
        http_client: HttpT | None = None,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        _logging.setup_from_env()
        # Checked first: a refused header (Authorization) fails before anything else.
        self._headers: dict[str, str] = {
            **HEADERS,
            **check_headers(default_headers, "default_headers"),
        }
        self._header_cache: tuple[dict[str, str] | None, _Prepared | None] = (None, None)
        # Per prepared headers (see `_prepared_headers`): (the http client's own headers,
        # ours, both merged, whether they name the Host): see `_plain_request`.
        self._merged_headers: list[tuple[Any, httpx.Headers, httpx.Headers, bool] | None] = [
            None,
            None,
        ]
        # Absolute URLs without a query, parsed (submit's is the same every time).
        self._parsed_urls: dict[str, httpx.URL] = {}
        # Kept for `with_options`, which resolves a new base URL as the constructor would.
        self._api_key_arg = None if api_key is None else Secret(api_key)
        self._allow_insecure_http = allow_insecure_http
        self._config: ClientConfig = resolve_config(
            api_key=api_key,
            base_url=base_url,
            timeout=DEFAULT_TIMEOUT if isinstance(timeout, NotGiven) else timeout,
            max_retries=max_retries,
            retry_submits=retry_submits,
            allow_insecure_http=allow_insecure_http,
        )
        if http_client is not None:
            self._check_http_client(http_client)
        if poll is not None and not isinstance(poll, _lazy.polling.PollPolicy):
            raise TypeError(f"poll must be a PollPolicy, got {type(poll).__name__}")
        self._retry_policy = RetryPolicy(max_retries=self._config.max_retries)
        self._poll = poll or _lazy.polling.PollPolicy()
        # A user's own http client keeps its own timeout unless one was passed here.
        explicit = http_client is None or not isinstance(timeout, NotGiven)
        self._request_timeout: httpx.Timeout | Any = (
            self._config.timeout if explicit else httpx.USE_CLIENT_DEFAULT
        )
        self._owns_http = http_client is None
        # The hosts the library's own pool reaches without an environment proxy (None: the
        # caller's own http client, whose routes are the caller's).
        self._direct: frozenset[str] | None = None
        self._http: HttpT = http_client if http_client is not None else self._new_http()
        # The key goes out through this object only, and only to the API's own origin.
        self._auth = BearerAuth(self._config.api_key, origin_of(httpx.URL(self.base_url)))

    def _new_http(self) -> HttpT:
        # The library's defaults (`default_http_client`): timeouts, no redirects (a
        # redirect must never carry the key to another host), the loopback proxy bypass.
        direct: tuple[str, ...] = self._direct_hosts()
        self._direct = frozenset((*LOOPBACK_HOSTS, *direct))
        return build_http_client(self._http_type, timeout=self._config.timeout, direct_hosts=direct)

    def _direct_hosts(self) -> tuple[str, ...]:
        """The base URL's host when it is a loopback one: reached without any proxy.

        An `HTTP(S)_PROXY` in the environment would otherwise receive every request to a
        local emulator, key included, in clear text. Its TLS context, the one the client
        shares, still reads `SSL_CERT_FILE`/`SSL_CERT_DIR`, so a TLS emulator with its own
        CA keeps working.
        """
        if not self._config.loopback:
            return ()
        return (httpx.URL(self.base_url).host,)

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
        api_key: str | None = None,
        base_url: str | None = None,
        default_headers: Mapping[str, str] | None = None,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | None = None,
        retry_submits: bool | None = None,
        poll: PollPolicy | None = None,
        http_client: HttpT | None = None,
    ) -> Self:
        """A client with some options changed, sharing this one's connection pool.

        Takes every constructor option; the ones left out keep this client's values.
        `default_headers` add to this client's. A new `base_url` without `api_key` is
        resolved as the constructor would (a key from the environment reaches a
        loopback URL given in code only through `api_key=`). The copy never closes the
        shared pool (nor a given `http_client`); close the original when done. A
        `base_url` on a loopback address the shared pool does not reach directly (say
        127.0.0.2, from a client of 127.0.0.1) gets a pool of its own, free of any
        environment proxy as the constructor's is, which the copy's `close()` closes.
        """
        clone = copy.copy(self)
        if default_headers is not None:
            clone._headers = {**self._headers, **check_headers(default_headers, "default_headers")}
        config = self._config
        if api_key is not None or base_url is not None:
            key = api_key if api_key is not None else self._api_key_arg
            config = resolve_config(
                api_key=key.reveal() if isinstance(key, Secret) else key,
                base_url=base_url if base_url is not None else self.base_url,
                timeout=config.timeout,
                max_retries=config.max_retries,
                retry_submits=config.retry_submits,
                allow_insecure_http=self._allow_insecure_http,
            )
            clone._api_key_arg = Secret(api_key) if api_key is not None else self._api_key_arg
            clone._auth = BearerAuth(config.api_key, origin_of(httpx.URL(config.base_url)))
        if not isinstance(timeout, NotGiven):
            config = config._replace(timeout=to_timeout(timeout))
            clone._request_timeout = config.timeout
        if max_retries is not None:
            config = config._replace(
                max_retries=_validate.non_negative_int(max_retries, "max_retries")
            )
        if retry_submits is not None:
            config = config._replace(retry_submits=bool(retry_submits))
        if http_client is not None:
            clone._http = self._check_http_client(http_client)
            if isinstance(timeout, NotGiven):  # as in the constructor: its own timeout
                clone._request_timeout = httpx.USE_CLIENT_DEFAULT
        if poll is not None and not isinstance(poll, _lazy.polling.PollPolicy):
            raise TypeError(f"poll must be a PollPolicy, got {type(poll).__name__}")
        clone._config = config
        clone._retry_policy = RetryPolicy(max_retries=config.max_retries)
        clone._poll = poll or self._poll
        clone._owns_http = False
        if http_client is not None:
            clone._direct = None
        elif not clone._reaches_directly(config):
            # The shared pool would send this loopback host's requests, key included,
            # through an environment proxy: the copy gets a pool of its own.
            clone._http = clone._new_http()
            clone._owns_http = True
        return clone

    def _reaches_directly(self, config: ClientConfig) -> bool:
        """Whether this client's pool reaches `config`'s base URL without an environment proxy.

        False only for a loopback host its own pool has no proxy-free route to; a
        caller's own http client is the caller's to route.
        """
        if not config.loopback or self._direct is None:
            return True
        return httpx.URL(config.base_url).host in self._direct

    def _check_http_client(self, http_client: object) -> HttpT:
        if not isinstance(http_client, self._http_type):
            raise TypeError(
                f"http_client must be an {self._http_type.__module__}.{self._http_type.__name__}, "
                f"got {type(http_client).__name__}"
            )
        return http_client

    # -- building calls (validation happens here, before any I/O) --------------------

    def _attempt_timeout(
        self, remaining: float | None, options: RequestOptions | None = None
    ) -> httpx.Timeout | Any:
        """The timeout of one attempt: the call's or the client's, cut to the time left."""
        configured = self._request_timeout
        if options is not None and options.timeout is not None:
            configured = options.timeout
        if remaining is None:
            return configured
        if not isinstance(configured, httpx.Timeout):  # the caller's own client's default
            configured = self._http.timeout
        return cap_timeout(configured, remaining)

    def _parse_response(self, call: Call[T], state: RetryState, response: httpx.Response) -> T:
        """The value of the response no retry follows; its error goes through `state`."""
        try:
            return call.parse(response)
        except TogetherQueueError as exc:
            error = state.error_to_raise(exc)
            self._explain(error)
            if error is exc:
                raise
            raise error from exc

    def _explain(self, error: BaseException) -> None:
        """Add what the client knows and the service cannot say (why no key was sent)."""
        if isinstance(error, AuthenticationError) and self._config.api_key is None:
            error.hint = (
                f"no API key was sent: {API_KEY_ENV} is not sent to a loopback base_url "
                "given in code; pass api_key=..."
                if self._config.env_key_withheld
                else "no API key was sent: pass api_key=... or set " + API_KEY_ENV
            )

    def _request_kwargs(self, call: Call[Any], options: RequestOptions | None) -> dict[str, Any]:
        """The call's `httpx` arguments, with the client's headers and the call's options."""
        # Params of the caller's own http client would replace a query in the URL.
        if options is None and not self._http.params:
            prepared = self._prepared_headers()
            if prepared is not None:
                url = self._parsed_url(call.plain_url(self.base_url))
                return call.plain_request_kwargs(url, self._headers, *prepared)
        kwargs = call.request_kwargs(self.base_url, self._headers)
        return kwargs if options is None else options.apply(kwargs)

    def _parsed_url(self, url: str) -> httpx.URL:
        """`httpx.URL(url)`, kept for a URL without a query (about 8 us a parse)."""
        if "?" in url:
            return httpx.URL(url)
        parsed = self._parsed_urls.get(url)
        if parsed is None:
            if len(self._parsed_urls) >= _MAX_PARSED_URLS:
                self._parsed_urls.clear()
            parsed = self._parsed_urls[url] = httpx.URL(url)
        return parsed

    def _prepared_headers(self) -> _Prepared | None:
        """`self._headers` as `httpx.Headers`, and with a JSON content type (None if refused).

        Built once, on first use, not in the constructor: a header httpx cannot encode
        (a non-ASCII value) still fails where it always did, in the call, through the
        plain path. Keyed on the dict itself: `with_options` gives a copy new headers
        by replacing the dict. The content type goes under ours, as a call's own
        headers always do.
        """
        source, prepared = self._header_cache
        if source is self._headers:
            return prepared
        try:
            prepared = (
                httpx.Headers(self._headers),
                httpx.Headers({**JSON_CONTENT_TYPE, **self._headers}),
            )
        except (UnicodeError, TypeError, ValueError):
            prepared = None
        self._header_cache = (self._headers, prepared)
        return prepared

    def _plain_request(
        self, kwargs: dict[str, Any], timeout: httpx.Timeout | Any
    ) -> httpx.Request | None:
        """`self._http.build_request(**kwargs, timeout=timeout)`, built here; None if httpx must.

        Only for a call without headers of its own, from `Call.plain_request_kwargs`: no
        body (status, metrics) or a JSON body already encoded (submit), on an exact
        `httpx.Client`/`AsyncClient` (a subclass may override how requests are built)
        with no params or cookies of its own. Then all `build_request` adds is the
        client's headers under ours, and the timeout; merging the headers anew on every
        call cost a fifth of the client's own CPU per status call, and encoding a body
        through httpx as much again per submit. The merge is kept while the http
        client's headers are unchanged.
        """
        http = self._http
        prepared = kwargs.get("headers")
        cached = self._header_cache[1]
        if cached is None or prepared is None:
            return None
        if prepared is cached[0] and kwargs.keys() == _PLAIN_KEYS:
            slot = 0
        elif prepared is cached[1] and kwargs.keys() == _BODY_KEYS:
            slot = 1
        else:
            return None
        if type(http) is not self._http_type or http.params or http.cookies:
            return None
        own = http.headers.raw
        merged_entry = self._merged_headers[slot]
        if merged_entry is None or merged_entry[1] is not prepared or merged_entry[0] != own:
            fresh = httpx.Headers(http.headers)
            fresh.update(prepared)
            merged_entry = (own, prepared, fresh, "Host" in fresh)
            self._merged_headers[slot] = merged_entry
        merged: httpx.Headers = merged_entry[2]
        names_host: bool = merged_entry[3]
        if timeout is httpx.USE_CLIENT_DEFAULT:
            timeout = http.timeout
        extensions = {"timeout": httpx.Timeout(timeout).as_dict()}
        url: httpx.URL = kwargs["url"]
        if slot == 0:
            return httpx.Request(kwargs["method"], url, headers=merged, extensions=extensions)
        # The body as a stream of its bytes, with the two headers httpx adds to content
        # (Host, Content-Length): its body encoders and header checks are skipped.
        content: bytes = kwargs["content"]
        raw: list[tuple[bytes, bytes]] = [] if names_host else [(b"Host", url.netloc)]
        raw += merged.raw
        raw.append((b"Content-Length", str(len(content)).encode()))
        request = httpx.Request(
            kwargs["method"],
            url,
            headers=raw,
            stream=httpx.ByteStream(content),
            extensions=extensions,
        )
        request.read()  # as httpx does for content: `request.content` is there for hooks
        return request

    def _retry_state(self, call: Call[Any], url: str) -> RetryState:
        return RetryState(
            operation=call.operation,
            policy=self._retry_policy,
            retry_submits=self._config.retry_submits,
            method=call.method,
            url=url,
            model=call.model,
        )

    def _waiter(
        self,
        job: Job | AsyncJob,
        timeout: float | None,
        on_update: UpdateCallback | None,
        poll: PollPolicy | None,
        raise_on_failure: bool,
    ) -> Waiter:
        seconds = _validate.optional_seconds(timeout, "timeout")
        return _lazy.polling.Waiter(
            label=f"job {job.request_id} ({job.model})",
            policy=poll or self._poll,
            deadline=None if seconds is None else time.monotonic() + seconds,
            on_update=on_update,
            raise_on_failure=raise_on_failure,
            job=job,
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
    if not isinstance(first, _lazy.jobs.JobRequest):
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
        observer.on_rate_limited(retry_after(response.headers))
    elif 200 <= response.status_code < 300:
        observer.on_success()


def log_response(call: Call[Any], response: httpx.Response, started: float) -> None:
    """Log one exchange at DEBUG (see `_logging`): never a header value or a body."""
    _logging.log_response(
        call.method,
        call.path,
        response.status_code,
        time.perf_counter() - started,
        _logging.http_request_id(response.headers),
    )


def log_retry(
    call: Call[Any], state: RetryState, delay: float, reason: str, response: httpx.Response | None
) -> None:
    """Log at INFO that `call` is retried in `delay` seconds, why, and what is left."""
    _logging.log_retry(
        call.method,
        call.path,
        reason=reason,
        delay=delay,
        # `state.attempt` counts the retry just scheduled: it and the rest are left.
        attempts_left=state.policy.max_retries - state.attempt + 1,
        request_id=None if response is None else _logging.http_request_id(response.headers),
    )


def raw_response(value: T, response: httpx.Response, retries: int) -> RawResponse[T]:
    """The `RawResponse` of a call that parsed to `value` after `retries` retries."""
    return RawResponse(response, value, retries_taken=retries)


def cancel_note(result: CancelResult | TogetherQueueError) -> str:
    """What `cancel_on_timeout` achieved, as a note on the `WaitTimeout`."""
    if isinstance(result, TogetherQueueError):
        return f"cancel_on_timeout: the cancel failed: {result}"
    if result.canceled:
        return "cancel_on_timeout: the job is canceled"
    return f"cancel_on_timeout: not canceled, the job is {result.status} (only a pending job is)"
