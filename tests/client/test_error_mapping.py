"""errors.py maps responses and transport failures to errors, the same for calls and downloads."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.scripted_server import Reply, ScriptedServer
from together_queue import AsyncQueueClient, QueueClient
from together_queue.errors import (
    APITimeoutError,
    BadRequestError,
    NotFoundError,
    RateLimitError,
    ServerError,
    retry_after,
    status_error,
    transport_error,
)

KEY = "sk-test-secret"
QUEUE_ERROR = {"code": "file_gone", "message": "the output expired", "param": "name"}


def _response(status: int, content: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    request = httpx.Request("GET", "http://127.0.0.1:9/v1/storage/x?sig=secret")
    return httpx.Response(status, content=content, headers=headers, request=request)


def test_a_queue_error_body_fills_the_fields() -> None:
    error = status_error(_response(400, b'{"code": "bad", "message": "no", "param": "model"}'))

    assert isinstance(error, BadRequestError)
    assert (error.code, error.message, error.param) == ("bad", "no", "model")
    assert error.url == "http://127.0.0.1:9/v1/storage/x"
    assert "sig=secret" not in str(error)


@pytest.mark.parametrize("body", [b"<html>oops</html>", b"[1, 2]", b'{"code": 5}', b""])
def test_a_body_that_is_not_a_queue_error_leaves_the_fields_empty(body: bytes) -> None:
    error = status_error(_response(503, body))

    assert isinstance(error, ServerError)
    assert (error.code, error.message, error.param, error.type) == (None, None, None, None)
    assert error.body == body.decode()


def test_retry_after_is_read_from_the_header_wherever_it_is_needed() -> None:
    response = _response(429, b"", {"Retry-After": "7"})
    error = status_error(response)

    assert isinstance(error, RateLimitError)
    assert retry_after(response.headers) == error.retry_after == 7.0
    assert retry_after({}) is None


def test_a_timeout_is_its_own_transport_error() -> None:
    error = transport_error(httpx.ReadTimeout("slow"), "GET", "http://127.0.0.1:9/x")

    assert isinstance(error, APITimeoutError)
    assert str(error) == "timed out: GET http://127.0.0.1:9/x (ReadTimeout)"


def test_a_download_error_keeps_the_queue_error_message_and_code(
    server: ScriptedServer, tmp_path: Path
) -> None:
    server.script("GET", "/v1/storage/gone", Reply(404, QUEUE_ERROR))

    with QueueClient(api_key=KEY, base_url=server.url) as client:
        with pytest.raises(NotFoundError) as caught:
            client.download(server.url + "/v1/storage/gone", tmp_path / "out")

    assert (caught.value.code, caught.value.message) == ("file_gone", "the output expired")
    assert "the output expired" in str(caught.value)
    assert caught.value.method == "GET"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.anyio
async def test_an_async_download_error_keeps_them_too(
    server: ScriptedServer, tmp_path: Path
) -> None:
    server.script("GET", "/v1/storage/gone", Reply(404, QUEUE_ERROR))

    async with AsyncQueueClient(api_key=KEY, base_url=server.url) as client:
        with pytest.raises(NotFoundError) as caught:
            await client.download(server.url + "/v1/storage/gone", tmp_path / "out")

    assert (caught.value.code, caught.value.param) == ("file_gone", "name")
