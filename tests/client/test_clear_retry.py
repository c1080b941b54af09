"""clear's retry rule: repeated only when the service certainly did not act."""

from __future__ import annotations

import httpx
import pytest

from tests.support.scripted_server import Reply, ScriptedServer
from together_queue import (
    APITimeoutError,
    AsyncQueueClient,
    ClearResult,
    QueueClient,
    ResponseValidationError,
    ServerError,
)
from together_queue._retry import Operation, RetryPolicy, RetryState

CLEAR = ("POST", "/v1/queue/clear")


def _client(server: ScriptedServer, **kwargs: object) -> QueueClient:
    return QueueClient(api_key="", base_url=server.url, **kwargs)  # type: ignore[arg-type]


def test_clear_is_not_idempotent_in_the_rule_table() -> None:
    assert not Operation.CLEAR.idempotent
    # retry_submits opts submits in, never a clear.
    state = RetryState(Operation.CLEAR, RetryPolicy(), True, "POST", "u", "m")
    response = httpx.Response(503, request=httpx.Request("POST", "http://127.0.0.1/x"))
    assert state.on_response(response) is None


def test_clear_returns_the_count(server: ScriptedServer) -> None:
    server.script(*CLEAR, Reply(200, {"canceled_count": 3}))
    with _client(server) as client:
        result = client.clear("m")
    assert result == ClearResult(model="m", canceled_count=3)
    (request,) = server.received(*CLEAR)
    assert request.json() == {"model": "m"}


def test_clear_after_429_is_retried(server: ScriptedServer) -> None:
    server.script(
        *CLEAR,
        Reply(429, {"message": "slow down"}, headers={"Retry-After": "0"}),
        Reply(200, {"canceled_count": 2}),
    )
    with _client(server, max_retries=2) as client:
        assert client.clear("m").canceled_count == 2
    assert len(server.received(*CLEAR)) == 2


def test_clear_after_a_5xx_is_not_resent(server: ScriptedServer) -> None:
    # The first attempt may have canceled jobs: a repeat would answer a smaller count.
    server.script(*CLEAR, Reply(500, {"message": "boom"}), Reply(200, {"canceled_count": 0}))
    with _client(server, max_retries=3, retry_submits=True) as client:
        with pytest.raises(ServerError):
            client.clear("m")
    assert len(server.received(*CLEAR)) == 1


def test_clear_read_timeout_is_not_resent(server: ScriptedServer) -> None:
    server.script(
        *CLEAR, Reply(200, {"canceled_count": 5}, delay=0.5), Reply(200, {"canceled_count": 0})
    )
    with _client(server, timeout=0.1, max_retries=3) as client:
        with pytest.raises(APITimeoutError):
            client.clear("m")
    assert len(server.received(*CLEAR)) == 1


@pytest.mark.parametrize("body", [{"canceled_count": -1}, {"canceled_count": "3"}, {}])
def test_clear_bad_body_is_a_typed_error(server: ScriptedServer, body: object) -> None:
    server.script(*CLEAR, Reply(200, body))
    with _client(server) as client, pytest.raises(ResponseValidationError, match="canceled_count"):
        client.clear("m")


@pytest.mark.parametrize("model", ["", None, 3])
def test_clear_bad_model_never_reaches_the_network(server: ScriptedServer, model: object) -> None:
    with _client(server) as client, pytest.raises((ValueError, TypeError), match="model"):
        client.clear(model)  # type: ignore[arg-type]
    assert server.received(*CLEAR) == []


@pytest.mark.anyio
async def test_async_clear_same_rule(server: ScriptedServer) -> None:
    server.script(*CLEAR, Reply(502, "bad gateway"), Reply(200, {"canceled_count": 1}))
    async with AsyncQueueClient(api_key="", base_url=server.url, max_retries=3) as client:
        with pytest.raises(ServerError):
            await client.clear("m")
    assert len(server.received(*CLEAR)) == 1
    async with AsyncQueueClient(api_key="", base_url=server.url) as client:
        # The reply the first call did not consume: clear answers it as a count.
        assert (await client.clear("m")).canceled_count == 1
