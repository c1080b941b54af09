"""A call without per-call options goes out exactly as the general path would send it.

`Call.plain_request_kwargs` puts the query into the URL and hands httpx prebuilt
headers (cheaper for httpx to build); the request httpx builds from it must equal,
byte for byte, the one built from `Call.request_kwargs`, whatever the ids contain,
and whatever the http client itself carries (headers, params, cookies, a base URL).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from together_queue import AsyncQueueClient, QueueClient
from together_queue._calls import (
    Call,
    cancel_call,
    clear_call,
    metrics_call,
    status_call,
    submit_call,
)
from together_queue._options import request_options

BASE = "http://127.0.0.1:8123/v1"
HEADERS = {"User-Agent": "together-queue/test", "Accept": "application/json", "X-Team": "a-team"}
EXTRA = {"X-Team": "a-team"}
AWKWARD = [
    "req-1",
    "a b+c&d=e#f?g/h%20i",
    "ünï/cødé 💡",
    "%",
    "a;b,c:d@e!f$g'h(i)j*k[l]m~n",
    "..",
]


def _calls(text: str) -> list[Call[Any]]:
    return [
        status_call(text, text),
        metrics_call(text),
        cancel_call(text, text),
        clear_call(text),
        submit_call(text, {"prompt": text}, 3, {"tag": text}),
    ]


def _wire(request: httpx.Request) -> tuple[Any, ...]:
    url = request.url
    where = (url.scheme, url.raw_host, url.port, url.raw_path)
    return (request.method, *where, request.headers.raw, request.read(), request.extensions)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class _OwnClient(httpx.Client):
    """A subclass may build requests its own way: it must be asked to."""


CLIENTS: dict[str, Callable[[], httpx.Client]] = {
    "plain": httpx.Client,
    "with its own headers": lambda: httpx.Client(headers={"X-Own": "1", "Accept": "text/x"}),
    "with a timeout": lambda: httpx.Client(timeout=httpx.Timeout(3.0, connect=1.0)),
    "with a base_url": lambda: httpx.Client(base_url="http://elsewhere.invalid/api"),
    "with params": lambda: httpx.Client(params={"tenant": "t 1"}),
    "with cookies": lambda: httpx.Client(cookies={"session": "abc"}),
    "a subclass": _OwnClient,
}
#: The clients whose bodiless calls skip `build_request` (see `_plain_request`).
PLAIN = {"plain", "with its own headers", "with a timeout", "with a base_url"}


def _as_sent(ours: QueueClient, call: Call[Any], timeout: Any) -> httpx.Request:
    """The request `_exchange` sends for `call` (without per-call options)."""
    kwargs = ours._request_kwargs(call, None)
    plain = ours._plain_request(kwargs, timeout)
    return plain if plain is not None else ours._http.build_request(**kwargs, timeout=timeout)


@pytest.mark.parametrize("client", list(CLIENTS))
@pytest.mark.parametrize("text", AWKWARD)
def test_plain_kwargs_build_the_same_request(client: str, text: str) -> None:
    with CLIENTS[client]() as http:
        ours = QueueClient(base_url=BASE, api_key="k", http_client=http, default_headers=EXTRA)
        for timeout in (ours._attempt_timeout(None), ours._attempt_timeout(0.5)):
            for call in _calls(text):
                kwargs = call.request_kwargs(BASE, ours._headers)
                general = http.build_request(**kwargs, timeout=timeout)
                assert _wire(_as_sent(ours, call, timeout)) == _wire(general), (call.path, text)
                plain = ours._plain_request(ours._request_kwargs(call, None), timeout)
                expect_plain = client in PLAIN and call.method == "GET"
                assert (plain is not None) == expect_plain, (client, call.path)


def test_a_change_to_the_http_clients_headers_reaches_the_next_request() -> None:
    with httpx.Client(headers={"X-Own": "1"}) as http:
        ours = QueueClient(base_url=BASE, api_key="k", http_client=http)
        call = status_call("req-1", "m")
        assert _as_sent(ours, call, None).headers["X-Own"] == "1"
        http.headers["X-Own"] = "2"
        assert _as_sent(ours, call, None).headers["X-Own"] == "2"
        http.headers = {"X-New": "3"}
        sent = _as_sent(ours, call, None)
        assert "X-Own" not in sent.headers and sent.headers["X-New"] == "3"
        assert sent.headers["Accept"] == "application/json"


@pytest.mark.parametrize("text", AWKWARD)
def test_the_shared_headers_are_not_changed_by_httpx(text: str) -> None:
    prepared = httpx.Headers(HEADERS)
    with httpx.Client() as http:
        for call in _calls(text):
            general = http.build_request(**call.request_kwargs(BASE, HEADERS))
            plain = http.build_request(**call.plain_request_kwargs(BASE, HEADERS, prepared))
            assert _wire(plain) == _wire(general), (call.path, text)
            plain.headers["X-Changed"] = "yes"
    assert prepared.raw == httpx.Headers(HEADERS).raw


def test_the_client_uses_the_plain_path_only_without_options() -> None:
    with QueueClient(base_url=BASE, api_key="k", default_headers={"X-Team": "a"}) as client:
        call = status_call("req-1", "m")
        plain = client._request_kwargs(call, None)
        assert isinstance(plain["url"], httpx.URL) and "params" not in plain
        options = request_options(extra_query={"trace": "1"}, extra_headers={"X-Call": "b"})
        general = client._request_kwargs(call, options)
        assert general["params"] == {"request_id": "req-1", "model": "m", "trace": "1"}
        assert general["headers"]["X-Call"] == "b" and general["headers"]["X-Team"] == "a"


def test_with_options_headers_reach_the_plain_path() -> None:
    with QueueClient(base_url=BASE, api_key="k") as client:
        call = status_call("req-1", "m")
        assert "X-Team" not in client._request_kwargs(call, None)["headers"]
        other = client.with_options(default_headers={"X-Team": "a"})
        assert other._request_kwargs(call, None)["headers"]["X-Team"] == "a"
        assert "X-Team" not in client._request_kwargs(call, None)["headers"]


def test_headers_httpx_cannot_encode_fail_in_the_call_as_before() -> None:
    # A non-ASCII value (httpx encodes header values as ASCII) is the caller's
    # error, raised by httpx when the request is built, on either path.
    with QueueClient(base_url=BASE, api_key="k", default_headers={"X-Team": "💡"}) as client:
        call = status_call("req-1", "m")
        kwargs = client._request_kwargs(call, None)
        with pytest.raises(UnicodeEncodeError):
            client._http.build_request(**kwargs)


@pytest.mark.anyio
async def test_the_async_client_builds_the_same_plain_request() -> None:
    async with httpx.AsyncClient(headers={"X-Own": "1"}) as http:
        ours = AsyncQueueClient(base_url=BASE, api_key="k", http_client=http)
        call = status_call("req-1", "m")
        timeout = ours._attempt_timeout(None)
        kwargs = ours._request_kwargs(call, None)
        plain = ours._plain_request(kwargs, timeout)
        assert plain is not None
        general = http.build_request(**call.request_kwargs(BASE, ours._headers), timeout=timeout)
        assert _wire(plain) == _wire(general)
