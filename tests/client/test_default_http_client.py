"""`default_http_client()`: a caller's own httpx client that keeps the library's defaults."""

from __future__ import annotations

import asyncio
import ssl

import httpx
import pytest

from tests.support.scripted_server import Reply, ScriptedServer, scripted_server, status_body
from tests.support.tls import ca_files_read
from together_queue import QueueClient, default_async_http_client, default_http_client
from together_queue._config import DEFAULT_TIMEOUT

STATUS = ("GET", "/v1/queue/status")


def _route_everything_through(proxy: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, proxy.url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


def test_a_client_from_default_http_client_bypasses_environment_proxies_for_loopback(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.always(*STATUS, Reply(200, status_body()))
    hooked: list[str] = []
    with scripted_server() as proxy:
        _route_everything_through(proxy, monkeypatch)
        proxy.always(*STATUS, Reply(200, status_body(status="done")))
        with (
            default_http_client(
                event_hooks={"request": [lambda request: hooked.append(request.url.path)]}
            ) as http,
            QueueClient(base_url=server.url, http_client=http) as client,
        ):
            assert client.status("r", model="m").status == "pending"
        assert proxy.requests == []
        # The control: a bare httpx client sends the same call to the proxy.
        with httpx.Client() as bare:
            bare.get(f"{server.url}/v1/queue/status")
        assert len(proxy.requests) == 1
    assert hooked == ["/v1/queue/status"]  # the caller's own arguments hold too
    assert len(server.received(*STATUS)) == 1


def test_the_defaults_and_what_the_caller_gives_instead() -> None:
    with default_http_client() as http:
        assert http.timeout == DEFAULT_TIMEOUT
        assert http.follow_redirects is False
    with default_http_client(timeout=3.0, follow_redirects=True) as http:
        assert http.timeout == httpx.Timeout(3.0)
        assert http.follow_redirects is True
    with pytest.raises(TypeError):
        default_http_client(no_such_option=1)


def test_a_given_transport_serves_loopback_urls_too() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(204)

    with default_http_client(transport=httpx.MockTransport(handler)) as http:
        assert http.get("http://127.0.0.1:9/x").status_code == 204
    assert seen == ["http://127.0.0.1:9/x"]


@pytest.mark.anyio
async def test_the_async_twin_bypasses_environment_proxies_for_loopback(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.always("GET", "/ping", Reply(200, {}))
    with scripted_server() as proxy:
        _route_everything_through(proxy, monkeypatch)
        async with default_async_http_client() as http:
            assert http.timeout == DEFAULT_TIMEOUT
            response = await http.get(f"{server.url}/ping")
        assert response.status_code == 200
        assert proxy.requests == []


def _contexts(http: httpx.Client | httpx.AsyncClient) -> list[ssl.SSLContext]:
    """The TLS context of the client's own transport and of each of its mounts."""
    transports = [http._transport, *(t for t in http._mounts.values() if t is not None)]
    return [t._pool._ssl_context for t in transports]  # type: ignore[union-attr]


@pytest.mark.parametrize("url", ["http://127.0.0.1:9", "http://127.0.0.2:9", "https://example.com"])
def test_one_tls_context_serves_the_client_and_every_mount(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    read = ca_files_read(monkeypatch)
    with QueueClient(base_url=url, api_key="k", allow_insecure_http=True) as client:
        contexts = _contexts(client._http)
        assert len(contexts) >= 4  # its own, and a proxy-free one per loopback name
        assert all(context is contexts[0] for context in contexts)
        contexts[0].wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname="example.com")
    assert len(read) == 1  # read when a connection first needed it, not once per transport
    read.clear()
    http = default_async_http_client()
    assert len({id(context) for context in _contexts(http)}) == 1
    asyncio.run(http.aclose())
    assert read == []  # no TLS connection made: no CA bundle read


def test_a_loopback_base_url_of_another_name_gets_a_proxy_free_mount_too() -> None:
    with QueueClient(base_url="http://127.0.0.2:9", api_key="k") as client:
        patterns = {pattern.pattern for pattern in client._http._mounts}
    assert {"all://127.0.0.2", "all://127.0.0.1", "all://localhost", "all://[::1]"} <= patterns


def test_a_callers_own_verify_holds_for_every_mount() -> None:
    with default_http_client(verify=False) as http:
        contexts = _contexts(http)
    assert all(context.verify_mode == ssl.CERT_NONE for context in contexts)
    own = ssl.create_default_context()
    with default_http_client(verify=own) as http:
        assert all(context is own for context in _contexts(http))
