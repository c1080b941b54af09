"""`with_options` takes every constructor option; `default_headers`; extras on bulk calls."""

from __future__ import annotations

import asyncio
import inspect

import httpx
import pytest

from tests.support.scripted_server import Reply, ScriptedServer, scripted_server, status_body
from together_queue import AsyncQueueClient, JobRequest, QueueClient
from together_queue.errors import APIConnectionError

STATUS = ("GET", "/v1/queue/status")
SUBMIT = ("POST", "/v1/queue/submit")
KEY = "sk-with-options-key-2718"


def test_with_options_changes_the_key_the_url_and_the_headers(server: ScriptedServer) -> None:
    server.always(*STATUS, Reply(200, status_body()))
    with scripted_server() as other:
        other.always(*STATUS, Reply(200, status_body(status="done")))
        with QueueClient(base_url=server.url, api_key=KEY, default_headers={"X-A": "1"}) as client:
            moved = client.with_options(
                base_url=other.url, api_key="sk-other", default_headers={"X-B": "2"}
            )
            assert moved.status("r", model="m").status == "done"
            assert client.status("r", model="m").status == "pending"  # the original is unchanged
        (sent,) = other.received(*STATUS)
    assert sent.headers["authorization"] == "Bearer sk-other"
    assert (sent.headers["x-a"], sent.headers["x-b"]) == ("1", "2")  # added to the original's
    (original,) = server.received(*STATUS)
    assert original.headers["authorization"] == f"Bearer {KEY}"
    assert "x-b" not in original.headers


def test_a_new_loopback_url_gets_no_key_from_the_environment(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As in the constructor: a loopback URL given in code gets a key only from api_key=.
    server.always(*STATUS, Reply(200, status_body()))
    monkeypatch.setenv("TOGETHER_API_KEY", KEY)
    with QueueClient(base_url="https://api.example.test") as remote:
        local = remote.with_options(base_url=server.url)
        local.status("r", model="m")
    assert "authorization" not in server.received(*STATUS)[0].headers


def test_with_options_takes_another_http_client_and_never_closes_it(server: ScriptedServer) -> None:
    server.always(*STATUS, Reply(200, status_body()))
    seen: list[str] = []
    with (
        httpx.Client(event_hooks={"request": [lambda r: seen.append(r.url.path)]}) as http,
        QueueClient(base_url=server.url) as client,
    ):
        hooked = client.with_options(http_client=http, poll=client.poll_policy)
        hooked.status("r", model="m")
        hooked.close()
        assert not http.is_closed
        with pytest.raises(TypeError, match="http_client"):
            client.with_options(http_client=httpx.AsyncClient())  # type: ignore[arg-type]
    assert seen == ["/v1/queue/status"]


@pytest.mark.parametrize("engine", [QueueClient, AsyncQueueClient])
def test_another_loopback_host_is_reached_without_the_environment_proxy(
    engine: type[QueueClient] | type[AsyncQueueClient],
    server: ScriptedServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A copy for a loopback address the shared pool does not reach directly gets its own."""
    with scripted_server() as proxy:
        for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.setenv(name, proxy.url)
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        proxy.always(*STATUS, Reply(200, status_body(status="done")))
        client = engine(base_url=server.url, api_key=KEY, max_retries=0)
        # Nothing listens on 127.0.0.2:9: reached directly, the call cannot connect.
        moved = client.with_options(base_url="http://127.0.0.2:9", api_key=KEY)
        with pytest.raises(APIConnectionError):
            _call(moved.status("r", model="m"))
        assert moved._http is not client._http
        kept = client.with_options(base_url=server.url.replace("127.0.0.1", "localhost"))
        assert kept._http is client._http  # a name the pool reaches directly: shared
        _close(moved)
        assert not client._http.is_closed  # the copy closed its own pool only
        _close(client)
        assert moved._http.is_closed
        assert proxy.requests == []  # neither the request nor the key went to the proxy


def _call(result: object) -> object:
    """A sync client's result, or an async one's awaited on a loop of its own."""
    return asyncio.run(result) if inspect.iscoroutine(result) else result


def _close(client: QueueClient | AsyncQueueClient) -> None:
    if isinstance(client, AsyncQueueClient):
        asyncio.run(client.aclose())
    else:
        client.close()


@pytest.mark.contract_exempt("extra_body adds a field the spec lacks: that is what it is for")
def test_bulk_submits_carry_the_extras(server: ScriptedServer) -> None:
    server.always(*SUBMIT, Reply(200, {"requestId": "req-1"}))
    with QueueClient(base_url=server.url) as client:
        outcomes = client.submit_many(
            [{"i": 1}, JobRequest("other", {"i": 2})],
            model="m",
            extra_headers={"X-Batch": "b1"},
            extra_body={"tag": "nightly"},
        )
    assert all(o.ok for o in outcomes)
    sent = server.received(*SUBMIT)
    assert [r.headers["x-batch"] for r in sent] == ["b1", "b1"]
    assert sorted(r.json()["model"] for r in sent) == ["m", "other"]
    assert [r.json()["tag"] for r in sent] == ["nightly", "nightly"]


@pytest.mark.anyio
async def test_async_bulk_submits_and_waits_carry_the_extras(server: ScriptedServer) -> None:
    server.always(*SUBMIT, Reply(200, {"requestId": "req-1"}))
    server.always(*STATUS, Reply(200, status_body(status="done")))
    async with AsyncQueueClient(base_url=server.url) as client:
        jobs = [o.unwrap() for o in await client.submit_many([{"i": 1}], model="m")]
        finals = await client.wait_all(jobs, extra_query={"trace": "t"})
    assert [o.unwrap().status for o in finals] == ["done"]
    assert server.received(*STATUS)[0].query["trace"] == ["t"]


def test_extra_body_may_not_replace_the_payload_and_nothing_is_sent(server: ScriptedServer) -> None:
    with QueueClient(base_url=server.url) as client:
        with pytest.raises(ValueError, match="'payload'"):
            client.submit("m", {"x": 1}, extra_body={"payload": {"y": 2}})
    assert server.requests == []
