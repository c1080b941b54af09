"""A call without per-call options goes out exactly as the general path would send it.

`Call.plain_request_kwargs` puts the query into the URL, hands httpx prebuilt
headers and a JSON body already encoded (cheaper for httpx to build); the request
built from it must equal, byte for byte, the one httpx builds from
`Call.request_kwargs`, whatever the ids contain, and whatever the http client itself
carries (headers, params, cookies, a base URL). httpx before 0.28 encoded `json=`
bodies with spaces: there the bodies are compared decoded.
"""

from __future__ import annotations

import json
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


# Whether this httpx encodes `json=` as the overlay does (compact, UTF-8): then bodies
# and their Content-Length are compared byte for byte.
_COMPACT = httpx.Request("POST", "http://x", json={"a": [1, "é"]}).content == (
    '{"a":[1,"é"]}'.encode()
)


def _wire(request: httpx.Request) -> tuple[Any, ...]:
    url = request.url
    where = (url.scheme, url.raw_host, url.port, url.raw_path)
    body: Any = request.read()
    headers = request.headers.raw
    if body and not _COMPACT:
        body = json.loads(body)
        headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
    return (request.method, *where, headers, body, request.extensions)


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
#: The clients whose calls skip `build_request` (see `_plain_request`).
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
                assert (plain is not None) == (client in PLAIN), (client, call.path)


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
    prepared_json = httpx.Headers({"Content-Type": "application/json", **HEADERS})
    with httpx.Client() as http:
        for call in _calls(text):
            general = http.build_request(**call.request_kwargs(BASE, HEADERS))
            url = httpx.URL(call.plain_url(BASE))
            kwargs = call.plain_request_kwargs(url, HEADERS, prepared, prepared_json)
            plain = http.build_request(**kwargs)
            assert _wire(plain) == _wire(general), (call.path, text)
            plain.headers["X-Changed"] = "yes"
    assert prepared.raw == httpx.Headers(HEADERS).raw
    assert prepared_json.raw == httpx.Headers({"Content-Type": "application/json", **HEADERS}).raw


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


@pytest.mark.anyio
async def test_the_async_client_sends_a_submit_body_encoded_once_as_httpx_would() -> None:
    async with httpx.AsyncClient(headers={"X-Own": "1"}) as http:
        ours = AsyncQueueClient(base_url=BASE, api_key="k", http_client=http)
        call = submit_call("m", {"prompt": "é 💡"}, 2, {"tag": 1})
        timeout = ours._attempt_timeout(None)
        kwargs = ours._request_kwargs(call, None)
        assert kwargs["content"] is call.content and "json" not in kwargs
        plain = ours._plain_request(kwargs, timeout)
        assert plain is not None
        general = http.build_request(**call.request_kwargs(BASE, ours._headers), timeout=timeout)
        assert _wire(plain) == _wire(general)
        assert json.loads(plain.content) == {
            "model": "m",
            "payload": {"prompt": "é 💡"},
            "priority": 2,
            "info": {"tag": 1},
        }


def test_a_host_header_of_the_http_client_is_not_sent_twice() -> None:
    with httpx.Client(headers={"Host": "api.example"}) as http:
        ours = QueueClient(base_url=BASE, api_key="k", http_client=http)
        call = submit_call("m", {}, 0, None)
        sent = _as_sent(ours, call, None)
        assert sent.headers.get_list("Host") == ["api.example"]
        general = http.build_request(**call.request_kwargs(BASE, ours._headers), timeout=None)
        assert _wire(sent) == _wire(general)


def test_a_url_without_a_query_is_parsed_once_per_client() -> None:
    with QueueClient(base_url=BASE, api_key="k") as client:
        first = client._request_kwargs(submit_call("m", {}, 0, None), None)["url"]
        again = client._request_kwargs(submit_call("n", {"a": 1}, 0, None), None)["url"]
        assert first is again and str(first) == BASE + "/queue/submit"
        status = client._request_kwargs(status_call("r", "m"), None)["url"]
        assert status is not client._request_kwargs(status_call("r", "m"), None)["url"]
