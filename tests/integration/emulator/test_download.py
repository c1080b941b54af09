"""download(): the key to the API origin only, atomic writes, refusals; sync and async alike."""

from __future__ import annotations

import inspect
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.scripted_server import Reply, ScriptedServer, scripted_server
from together_queue import (
    AsyncQueueClient,
    ConfigurationError,
    InsecureTransportError,
    NotFoundError,
    QueueClient,
)
from together_queue.errors import APIConnectionError

from .conftest import Factory

KEY = "sk-download-secret"


@pytest.fixture
def api_server() -> Iterator[ScriptedServer]:
    """Plays the API's origin: the client's base URL points here."""
    with scripted_server() as server:
        yield server


@pytest.fixture
def other_server() -> Iterator[ScriptedServer]:
    """Another origin (another port), e.g. where a signed URL points; records headers."""
    with scripted_server() as server:
        yield server


def _auth_headers(server: ScriptedServer) -> list[str | None]:
    return [r.headers.get("authorization") for r in server.requests]


def test_the_key_follows_only_to_the_api_origin(
    api_server: ScriptedServer, other_server: ScriptedServer, tmp_path: Path
) -> None:
    signed = other_server.url + "/signed/out.bin?sig=abc"
    api_server.script("GET", "/v1/storage/out.bin", Reply(307, "", headers={"Location": signed}))
    other_server.script("GET", "/signed/out.bin", Reply(200, b"payload bytes"))
    with QueueClient(api_key=KEY, base_url=api_server.url) as client:
        path = client.download(api_server.url + "/v1/storage/out.bin", tmp_path / "out.bin")
    assert path.read_bytes() == b"payload bytes"
    assert _auth_headers(api_server) == [f"Bearer {KEY}"]
    assert _auth_headers(other_server) == [None]


def test_a_header_on_the_callers_own_client_does_not_leak_either(
    api_server: ScriptedServer, other_server: ScriptedServer, tmp_path: Path
) -> None:
    api_server.script(
        "GET", "/v1/storage/f", Reply(302, "", headers={"Location": other_server.url + "/f"})
    )
    other_server.script("GET", "/f", Reply(200, b"x"))
    with (
        httpx.Client(headers={"Authorization": f"Bearer {KEY}"}) as http,
        QueueClient(api_key=KEY, base_url=api_server.url, http_client=http) as client,
    ):
        client.download(api_server.url + "/v1/storage/f", tmp_path / "f")
    assert _auth_headers(other_server) == [None]


def test_a_url_on_another_origin_never_gets_the_key(
    api_server: ScriptedServer, other_server: ScriptedServer, tmp_path: Path
) -> None:
    other_server.script("GET", "/direct.txt", Reply(200, b"direct"))
    with QueueClient(api_key=KEY, base_url=api_server.url) as client:
        client.download(other_server.url + "/direct.txt", tmp_path)  # a folder: URL's name
    assert (tmp_path / "direct.txt").read_bytes() == b"direct"
    assert _auth_headers(other_server) == [None]
    assert api_server.requests == []


@pytest.mark.anyio
async def test_async_download_keeps_the_same_rules(
    api_server: ScriptedServer, other_server: ScriptedServer, tmp_path: Path
) -> None:
    api_server.script(
        "GET", "/v1/storage/a", Reply(307, "", headers={"Location": other_server.url + "/a"})
    )
    other_server.script("GET", "/a", Reply(200, b"async bytes"))
    seen: list[tuple[int, int | None]] = []
    async with AsyncQueueClient(api_key=KEY, base_url=api_server.url) as client:
        path = await client.download(
            api_server.url + "/v1/storage/a",
            tmp_path / "a.bin",
            on_progress=lambda got, total: seen.append((got, total)),
        )
    assert path.read_bytes() == b"async bytes"
    assert seen[-1] == (11, 11)
    assert _auth_headers(api_server) == [f"Bearer {KEY}"]
    assert _auth_headers(other_server) == [None]


def test_sync_and_async_download_share_one_signature() -> None:
    sync = inspect.signature(QueueClient.download)
    async_ = inspect.signature(AsyncQueueClient.download)
    assert (
        list(sync.parameters)
        == list(async_.parameters)
        == ["self", "url", "dest", "on_progress", "overwrite"]
    )
    assert inspect.iscoroutinefunction(AsyncQueueClient.download)


@pytest.mark.parametrize(
    "url", ["http://example.com/out.bin", "http://203.0.113.9:8000/v1/storage/x"]
)
def test_plain_http_to_a_remote_host_is_refused(url: str, tmp_path: Path) -> None:
    with QueueClient(api_key=KEY) as client:  # the real API's base URL
        with pytest.raises(InsecureTransportError, match="plain http"):
            client.download(url, tmp_path / "x")
    assert list(tmp_path.iterdir()) == []


def test_a_redirect_to_plain_http_off_this_machine_is_refused(
    api_server: ScriptedServer, tmp_path: Path
) -> None:
    api_server.script(
        "GET", "/v1/storage/x", Reply(307, "", headers={"Location": "http://203.0.113.9/x"})
    )
    with QueueClient(api_key=KEY, base_url=api_server.url) as client:
        with pytest.raises(InsecureTransportError):
            client.download(api_server.url + "/v1/storage/x", tmp_path / "x")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "/v1/storage/x", "not a url", ""])
def test_a_url_that_is_not_absolute_http_is_a_configuration_error(url: str, tmp_path: Path) -> None:
    with QueueClient(api_key="", base_url="http://127.0.0.1:9") as client:
        with pytest.raises(ConfigurationError, match="cannot download"):
            client.download(url, tmp_path / "x")


def test_an_error_status_raises_and_writes_nothing(
    api_server: ScriptedServer, tmp_path: Path
) -> None:
    api_server.script("GET", "/v1/storage/gone", Reply(404, {"message": "no file 'gone'"}))
    dest = tmp_path / "gone"
    with QueueClient(api_key=KEY, base_url=api_server.url) as client:
        with pytest.raises(NotFoundError, match="no file"):
            client.download(api_server.url + "/v1/storage/gone", dest)
    assert list(tmp_path.iterdir()) == []


def test_too_many_redirects(api_server: ScriptedServer, tmp_path: Path) -> None:
    api_server.always("GET", "/v1/loop", Reply(307, "", headers={"Location": "/v1/loop"}))
    with QueueClient(api_key=KEY, base_url=api_server.url) as client:
        with pytest.raises(APIConnectionError, match="redirects"):
            client.download(api_server.url + "/v1/loop", tmp_path / "x")
    assert len(api_server.requests) == 6


class _TruncatingServer:
    """Promises 100000 bytes, sends 40000, then closes: a connection lost mid-body."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                b"Content-Length: 100000\r\n\r\n" + b"x" * 40000
            )

    def close(self) -> None:
        self.thread.join(5)
        self.sock.close()


@pytest.mark.parametrize("existing", [None, b"the old file"])
def test_a_broken_download_leaves_no_half_file(existing: bytes | None, tmp_path: Path) -> None:
    dest = tmp_path / "out.bin"
    if existing is not None:
        dest.write_bytes(existing)
    server = _TruncatingServer()
    try:
        with QueueClient(api_key="", base_url=server.url) as client:
            with pytest.raises(APIConnectionError):
                client.download(server.url + "/v1/storage/out.bin", dest, overwrite=True)
    finally:
        server.close()
    # The old file (if any) is untouched, and no temporary file is left beside it.
    assert [p.name for p in tmp_path.iterdir()] == ([] if existing is None else ["out.bin"])
    if existing is not None:
        assert dest.read_bytes() == existing


def test_download_from_the_emulator_over_tls_byte_for_byte(
    queue_emulator_factory: Factory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    emulator = queue_emulator_factory(tls=True, api_keys=[KEY])
    assert emulator.ca_file is not None
    monkeypatch.setenv("SSL_CERT_FILE", emulator.ca_file)
    data = bytes(range(256)) * 2000
    emulator.runtime.files.put("r1-image.png", data)
    with QueueClient(api_key=KEY, base_url=emulator.url) as client:
        path = client.download(emulator.url + "/v1/storage/r1-image.png", tmp_path)
    assert path == tmp_path / "r1-image.png"
    assert path.read_bytes() == data
