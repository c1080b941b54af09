"""File storage: upload-request, the signed PUT, and the download redirect, over TLS."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from together_queue.emulator import EmulatorHandle, start_emulator

from .conftest import Api, Factory

KEY = "k-storage"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
def api() -> Iterator[Api]:
    """Plain httpx clients: storage answers bytes and redirects, not spec JSON."""
    with contextlib.ExitStack() as stack:

        def make(handle: EmulatorHandle, **kwargs: Any) -> httpx.Client:
            kwargs.setdefault("timeout", 10.0)
            return stack.enter_context(httpx.Client(base_url=handle.url, **kwargs))

        yield make


def _tls_client(api: Api, emulator: EmulatorHandle, **kwargs: Any) -> httpx.Client:
    return api(emulator, verify=emulator.ssl_context(), **kwargs)


def _upload_url(client: httpx.Client, filename: str) -> str:
    response = client.post("/v1/storage/upload-request", json={"filename": filename}, headers=AUTH)
    assert response.status_code == 200, response.text
    url: str = response.json()["upload_url"]["url"]
    return url


def test_upload_then_download_byte_for_byte_over_tls(
    queue_emulator_factory: Factory, api: Api
) -> None:
    emulator = queue_emulator_factory(tls=True, api_keys=[KEY])
    assert emulator.url.startswith("https://")
    client = _tls_client(api, emulator)
    data = os.urandom(300_000) + b"\x00\xff end"
    url = _upload_url(client, "rid-1-out.bin")
    assert url.startswith(emulator.url + "/")  # signed, on the emulator's own origin
    # No key on the PUT: the signature is the permission.
    put = client.put(url, content=data)
    assert put.status_code == 200, put.text
    got = client.get("/v1/storage/rid-1-out.bin", headers=AUTH)
    assert got.status_code == 307
    location = got.headers["location"]
    # The signed download URL needs no key.
    plain = client.get(location)
    assert plain.content == data
    assert plain.headers["content-type"] == "application/octet-stream"
    followed = client.get("/v1/storage/rid-1-out.bin", headers=AUTH, follow_redirects=True)
    assert followed.content == data


def test_the_sdk_style_put_with_its_default_headers_is_accepted(
    queue_emulator_factory: Factory, api: Api
) -> None:
    # sprocket PUTs through its API client: Authorization and a JSON content type ride along.
    emulator = queue_emulator_factory(tls=True, api_keys=[KEY])
    client = _tls_client(api, emulator)
    url = _upload_url(client, "r-x.txt")
    put = client.put(url, content=b"not json", headers={**AUTH, "Content-Type": "application/json"})
    assert put.status_code == 200, put.text
    got = client.get("/v1/storage/r-x.txt", headers=AUTH, follow_redirects=True)
    assert got.content == b"not json"
    assert got.headers["content-type"].startswith("text/plain")  # from the file name


def test_an_upload_url_takes_one_put(queue_emulator_factory: Factory, api: Api) -> None:
    client = api(queue_emulator_factory())
    url = _upload_url(client, "once.txt")
    assert client.put(url, content=b"1").status_code == 200
    assert client.put(url, content=b"2").status_code == 409
    assert client.get("/v1/storage/once.txt", follow_redirects=True).content == b"1"


def test_parallel_puts_on_one_url_store_exactly_one(
    queue_emulator_factory: Factory, api: Api
) -> None:
    emulator = queue_emulator_factory()
    url = _upload_url(api(emulator), "race.bin")
    puts = 4
    started = threading.Semaphore(0)
    finish = threading.Event()

    def body(index: int) -> Iterator[bytes]:
        yield b"%d-first " % index  # headers and a first chunk are out: the PUT has begun
        started.release()
        finish.wait(timeout=10)
        yield b"second"

    def put(index: int) -> int | str:
        with httpx.Client(timeout=10) as client:
            try:
                return client.put(url, content=body(index)).status_code
            except httpx.TransportError as exc:  # refused early: the server may hang up
                return type(exc).__name__

    with ThreadPoolExecutor(puts) as pool:
        results = [pool.submit(put, index) for index in range(puts)]
        for _ in range(puts):
            assert started.acquire(timeout=10), "a PUT did not start"
        # Every PUT has sent its headers and is held open: now let the bodies end.
        finish.set()
        statuses = [r.result(timeout=20) for r in results]
    assert statuses.count(200) == 1, statuses
    winner = statuses.index(200)
    got = api(emulator).get("/v1/storage/race.bin", follow_redirects=True)
    assert got.content == b"%d-first second" % winner


def test_each_upload_request_gets_its_own_url(queue_emulator_factory: Factory, api: Api) -> None:
    client = api(queue_emulator_factory())
    # Two requests in the same second (same expiry): a few tries find such a pair.
    for _ in range(5):
        first, second = _upload_url(client, "twice.bin"), _upload_url(client, "twice.bin")
        if httpx.URL(first).params["expires"] == httpx.URL(second).params["expires"]:
            break
    assert first != second
    # Each is usable once, in turn: the second upload replaces the first.
    assert client.put(first, content=b"one").status_code == 200
    assert client.put(second, content=b"two").status_code == 200
    assert client.put(second, content=b"three").status_code == 409
    assert client.get("/v1/storage/twice.bin", follow_redirects=True).content == b"two"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda url: url.replace("signature=", "signature=0"),
        lambda url: url.replace("expires=", "expires=1"),
        lambda url: url.replace("nonce=", "nonce=0"),
        lambda url: url.replace("/once.txt", "/other.txt"),
        lambda url: url.split("?")[0],
    ],
)
def test_a_tampered_or_unsigned_url_is_403(
    mangle: Any, queue_emulator_factory: Factory, api: Api
) -> None:
    client = api(queue_emulator_factory())
    url = _upload_url(client, "once.txt")
    response = client.put(mangle(url), content=b"x")
    assert response.status_code == 403, response.text
    assert client.get("/v1/storage/once.txt").status_code == 404


def test_no_key_is_401_on_upload_request_and_get(queue_emulator_factory: Factory, api: Api) -> None:
    emulator = queue_emulator_factory(tls=True, api_keys=[KEY])
    client = _tls_client(api, emulator)
    client.put(_upload_url(client, "f.txt"), content=b"x").raise_for_status()
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        upload = client.post(
            "/v1/storage/upload-request", json={"filename": "g.txt"}, headers=headers
        )
        assert upload.status_code == 401, upload.text
        assert client.get("/v1/storage/f.txt", headers=headers).status_code == 401


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"filename": ""}, "filename"),
        ({"filename": "x" * 256}, "filename"),
        ({"filename": "a/b"}, "filename"),
        ({"filename": "..\\b"}, "filename"),
        ({"filename": ".."}, "filename"),
        ({"filename": "a\nb"}, "filename"),
        ({"filename": 5}, "filename"),
        ({}, "filename"),
    ],
)
def test_bad_filenames_are_400(
    body: dict[str, Any], param: str, queue_emulator_factory: Factory, api: Api
) -> None:
    client = api(queue_emulator_factory())
    response = client.post("/v1/storage/upload-request", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["param"] == param


def test_unknown_file_is_404(queue_emulator_factory: Factory, api: Api) -> None:
    client = api(queue_emulator_factory())
    response = client.get("/v1/storage/nothing-here.bin")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_an_upload_over_the_limit_is_413_and_stores_nothing(
    queue_emulator_factory: Factory, api: Api
) -> None:
    client = api(queue_emulator_factory(max_upload_bytes=1000))
    url = _upload_url(client, "big.bin")
    assert client.put(url, content=b"x" * 1001).status_code == 413

    def chunked() -> Any:  # no Content-Length: the streamed count decides
        yield b"x" * 600
        yield b"x" * 600

    assert client.put(url, content=chunked()).status_code == 413
    assert client.get("/v1/storage/big.bin").status_code == 404
    # The URL was not used up by the refused attempts.
    assert client.put(url, content=b"x" * 1000).status_code == 200


def test_files_survive_a_restart_with_db(tmp_path: Path) -> None:
    db = str(tmp_path / "q.db")
    with start_emulator(db=db) as first, httpx.Client(base_url=first.url) as client:
        client.put(_upload_url(client, "kept.bin"), content=b"\x01\x02").raise_for_status()
    assert (tmp_path / "q.db.files" / "kept.bin").read_bytes() == b"\x01\x02"
    with start_emulator(db=db) as second, httpx.Client(base_url=second.url) as client:
        got = client.get("/v1/storage/kept.bin", follow_redirects=True)
        assert got.content == b"\x01\x02"


def test_without_db_files_live_in_memory(tmp_path: Path) -> None:
    with start_emulator() as emulator, httpx.Client(base_url=emulator.url) as client:
        client.put(_upload_url(client, "mem.bin"), content=b"m").raise_for_status()
        assert emulator.runtime.files.directory is None
    with start_emulator() as emulator, httpx.Client(base_url=emulator.url) as client:
        assert client.get("/v1/storage/mem.bin").status_code == 404
