"""Configuration and key safety: env defaults, base URLs, refusals, redaction."""

from __future__ import annotations

import logging

import httpx
import pytest

from tests.support.scripted_server import Reply, ScriptedServer, status_body
from together_queue import (
    AsyncQueueClient,
    ConfigurationError,
    InsecureTransportError,
    NotFoundError,
    QueueClient,
    __version__,
)

SECRET = "sk-test-secret"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://api.together.ai", "https://api.together.ai/v1"),
        ("https://api.together.ai/", "https://api.together.ai/v1"),
        ("https://api.together.ai/v1", "https://api.together.ai/v1"),
        ("https://api.together.ai/v1/", "https://api.together.ai/v1"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000/v1"),
        ("https://proxy.example/together", "https://proxy.example/together/v1"),
    ],
)
def test_base_url_with_or_without_v1(given: str, expected: str) -> None:
    assert QueueClient(api_key=SECRET, base_url=given).base_url == expected


def test_defaults_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOGETHER_API_KEY", SECRET)
    monkeypatch.setenv("TOGETHER_BASE_URL", "https://eu.example.test")
    client = QueueClient()
    assert client.base_url == "https://eu.example.test/v1"
    assert client._config.api_key is not None
    assert client._config.api_key.reveal() == SECRET


def test_default_base_url_is_together() -> None:
    assert QueueClient(api_key=SECRET).base_url == "https://api.together.ai/v1"


def test_arguments_beat_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOGETHER_API_KEY", "sk-from-env")
    monkeypatch.setenv("TOGETHER_BASE_URL", "https://env.example.test")
    client = QueueClient(api_key=SECRET, base_url="https://arg.example.test")
    assert client.base_url == "https://arg.example.test/v1"
    assert client._config.api_key is not None
    assert client._config.api_key.reveal() == SECRET


def test_missing_key_for_a_remote_host_says_how_to_provide_one() -> None:
    with pytest.raises(ConfigurationError, match="TOGETHER_API_KEY") as info:
        QueueClient()
    assert "api_key=" in str(info.value)


def test_no_key_is_fine_on_loopback() -> None:
    for url in ("http://127.0.0.1:1", "http://localhost:1", "http://[::1]:1"):
        assert QueueClient(base_url=url)._config.api_key is None


def test_key_over_plain_http_to_a_remote_host_is_refused() -> None:
    with pytest.raises(InsecureTransportError, match="clear text"):
        QueueClient(api_key=SECRET, base_url="http://api.example.test")
    client = QueueClient(
        api_key=SECRET, base_url="http://api.example.test", allow_insecure_http=True
    )
    assert client.base_url == "http://api.example.test/v1"


@pytest.mark.parametrize("bad", ["", "ftp://x", "not a url", "https://x/v1?q=1", "http://[::1"])
def test_bad_base_url_is_a_configuration_error(bad: str) -> None:
    with pytest.raises(ConfigurationError, match="base_url"):
        QueueClient(api_key=SECRET, base_url=bad)


@pytest.mark.parametrize(
    ("kwargs", "exc"),
    [
        ({"max_retries": -1}, ConfigurationError),
        ({"max_retries": True}, ConfigurationError),
        ({"timeout": 0}, ConfigurationError),
        ({"http_client": httpx.AsyncClient()}, TypeError),
    ],
)
def test_bad_options_are_rejected(kwargs: dict[str, object], exc: type[Exception]) -> None:
    with pytest.raises(exc):
        QueueClient(api_key=SECRET, **kwargs)  # type: ignore[arg-type]


def test_key_never_appears_in_repr_or_str() -> None:
    client = QueueClient(api_key=SECRET)
    aclient = AsyncQueueClient(api_key=SECRET)
    texts = (repr(client), str(client), repr(aclient), repr(client._config), str(client._config))
    for text in texts:
        assert SECRET not in text
    assert "***" in repr(client)


def test_key_never_appears_in_logs_or_errors(
    server: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.script("GET", "/v1/queue/status", Reply(404, {"message": "no such job"}))
    server.script("POST", "/v1/queue/submit", Reply(500, {"message": "boom"}))
    caplog.set_level(logging.DEBUG)
    with QueueClient(base_url=server.url, api_key=SECRET, max_retries=0) as client:
        with pytest.raises(NotFoundError) as not_found:
            client.status("r1", model="m")
        with pytest.raises(Exception) as unknown:
            client.submit("m", {"a": 1})
    texts = [caplog.text, str(not_found.value), repr(not_found.value), str(unknown.value)]
    assert caplog.records, "the client logs its requests at DEBUG"
    for text in texts:
        assert SECRET not in text
    # ...while the key did go to the server, as a bearer token.
    assert server.requests[0].headers["authorization"] == f"Bearer {SECRET}"


def test_user_agent_names_package_and_version(client: QueueClient, server: ScriptedServer) -> None:
    server.script("GET", "/v1/queue/status", Reply(200, status_body()))
    client.status("req-1", model="m")
    assert f"together-queue/{__version__}" in server.requests[0].headers["user-agent"]


def test_context_manager_closes_own_pool_but_not_a_given_one(server: ScriptedServer) -> None:
    with QueueClient(base_url=server.url) as client:
        own = client._http
    assert own.is_closed
    given = httpx.Client()
    with QueueClient(base_url=server.url, http_client=given):
        pass
    assert not given.is_closed
    given.close()


def test_given_http_client_is_used_and_gets_the_key_per_request(server: ScriptedServer) -> None:
    server.script("GET", "/v1/queue/status", Reply(200, status_body()))
    with httpx.Client(headers={"X-Mine": "yes"}) as given:
        client = QueueClient(base_url=server.url, api_key=SECRET, http_client=given)
        client.status("req-1", model="m")
        assert "authorization" not in given.headers  # the caller's client is not modified
    headers = server.requests[0].headers
    assert headers["x-mine"] == "yes"
    assert headers["authorization"] == f"Bearer {SECRET}"


def test_with_options_shares_the_pool(server: ScriptedServer) -> None:
    with QueueClient(base_url=server.url, max_retries=2) as client:
        other = client.with_options(max_retries=0, timeout=1.5)
        assert other.max_retries == 0 and client.max_retries == 2
        assert other._http is client._http
        other.close()
        assert not client._http.is_closed
        with pytest.raises(ValueError, match="max_retries"):
            client.with_options(max_retries=-1)
        with pytest.raises(TypeError, match="max_retries"):
            client.with_options(max_retries="3")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("given", "suggestion"),
    [
        ("127.0.0.1:18767", "http://127.0.0.1:18767"),
        ("localhost:8000/v1", "http://localhost:8000/v1"),
        ("api.together.ai", "https://api.together.ai"),
    ],
)
def test_a_base_url_without_scheme_gets_a_suggestion(given: str, suggestion: str) -> None:
    with pytest.raises(ConfigurationError, match=f"did you mean {suggestion}"):
        QueueClient(api_key=SECRET, base_url=given)


@pytest.mark.contract_exempt("sends to a wrong path on purpose")
def test_a_404_for_a_route_says_to_check_the_base_url(server: ScriptedServer) -> None:
    server.always("POST", "/api/v1/queue/submit", Reply(404, "<html>Not Found</html>"))
    server.always(
        "GET", "/v1/queue/status", Reply(404, {"message": "no job", "param": "request_id"})
    )
    with QueueClient(api_key=SECRET, base_url=server.url + "/api") as client:
        with pytest.raises(NotFoundError, match="check the base URL") as info:
            client.submit("m", {})
    assert "/api/v1/queue/submit" in str(info.value)
    with QueueClient(api_key=SECRET, base_url=server.url) as client:
        with pytest.raises(NotFoundError) as unknown_job:
            client.status("r", model="m")
    assert "base URL" not in str(unknown_job.value)  # an unknown job is just that


@pytest.mark.parametrize("host", ["evil.localhost", "a.b.localhost", "localhost.example.test"])
def test_a_name_under_localhost_is_not_loopback(host: str) -> None:
    # Only `localhost` and literal loopback addresses count; a subdomain goes to DNS.
    with pytest.raises(InsecureTransportError, match="clear text"):
        QueueClient(api_key=SECRET, base_url=f"http://{host}:8000")
    with pytest.raises(ConfigurationError, match="no API key"):
        QueueClient(base_url=f"http://{host}:8000")
