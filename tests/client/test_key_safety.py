"""The API key: only through httpx.Auth, never in a frame's locals, never through a proxy."""

from __future__ import annotations

import traceback
from collections.abc import Iterator

import httpx
import pytest

from tests.client.conftest import FAST_POLL
from tests.support.scripted_server import Reply, ScriptedServer, scripted_server, status_body
from together_queue import AuthenticationError, QueueClient, ServerError
from together_queue._auth import BearerAuth, origin_of
from together_queue._config import Secret

SECRET = "sk-never-show-this-key-7f3a"
STATUS = ("GET", "/v1/queue/status")


@pytest.fixture
def proxy() -> Iterator[ScriptedServer]:
    with scripted_server() as srv:
        yield srv


def test_no_frame_holds_the_key_in_clear(server: ScriptedServer) -> None:
    server.always(*STATUS, Reply(500, {"message": "boom"}))
    with QueueClient(base_url=server.url, api_key=SECRET, max_retries=1) as client:
        with pytest.raises(ServerError) as info:
            client.status("r", model="m")
    assert server.received(*STATUS)[0].headers["authorization"] == f"Bearer {SECRET}"
    rendered = "".join(
        traceback.TracebackException.from_exception(info.value, capture_locals=True).format()
    )
    assert "_send" in rendered  # the client's own frames were captured, locals included
    assert SECRET not in rendered


def test_auth_repr_redacts_and_applies_only_to_its_origin() -> None:
    auth = BearerAuth(Secret(SECRET), origin_of(httpx.URL("https://api.example.test/v1")))
    assert SECRET not in repr(auth)
    assert auth.applies_to(httpx.URL("https://api.example.test:443/v1/storage/x"))
    for other in (
        "http://api.example.test/v1",  # another scheme is another origin
        "https://api.example.test:8443/v1",
        "https://files.example.test/x",
    ):
        request = httpx.Request("GET", other, headers={"Authorization": "Bearer planted"})
        sent = next(auth.auth_flow(request))
        assert "authorization" not in sent.headers, other


def test_loopback_calls_bypass_environment_proxies(
    server: ScriptedServer, proxy: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, proxy.url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    server.always(*STATUS, Reply(200, status_body()))
    proxy.always(*STATUS, Reply(200, status_body(status="done")))
    with QueueClient(base_url=server.url, api_key=SECRET) as client:
        assert client.status("r", model="m").status == "pending"
    assert proxy.requests == []
    assert len(server.received(*STATUS)) == 1


def test_an_environment_key_is_not_sent_to_a_loopback_url_given_in_code(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOGETHER_API_KEY", SECRET)
    server.always(*STATUS, Reply(401, {"message": "missing key"}))
    with QueueClient(base_url=server.url, poll=FAST_POLL) as client:
        with pytest.raises(AuthenticationError) as info:
            client.status("r", model="m")
    assert "authorization" not in server.received(*STATUS)[0].headers
    assert "api_key=" in str(info.value)  # the error says why no key went out


def test_an_environment_key_goes_with_an_environment_url(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOGETHER_API_KEY", SECRET)
    monkeypatch.setenv("TOGETHER_BASE_URL", server.url)
    server.always(*STATUS, Reply(200, status_body()))
    with QueueClient() as client:
        client.status("r", model="m")
    assert server.received(*STATUS)[0].headers["authorization"] == f"Bearer {SECRET}"


def test_an_explicit_key_is_sent_to_loopback(server: ScriptedServer) -> None:
    server.always(*STATUS, Reply(200, status_body()))
    with QueueClient(base_url=server.url, api_key=SECRET) as client:
        client.status("r", model="m")
    assert server.received(*STATUS)[0].headers["authorization"] == f"Bearer {SECRET}"
