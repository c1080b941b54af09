"""download(): the caller names the file, never a redirect; no hidden or control names;
no silent replacing; no `user:pw@` in messages. Sync and async alike."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.scripted_server import Reply, ScriptedServer, scripted_server
from together_queue import AsyncQueueClient, ConfigurationError, NotFoundError, QueueClient

KEY = "sk-download-naming"


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    """Plays the API's origin (the client's base URL) and the signed URL's host."""
    with scripted_server() as scripted:
        yield scripted


def _redirect_to(server: ScriptedServer, name: str, location: str) -> str:
    server.script("GET", f"/v1/storage/{name}", Reply(307, "", headers={"Location": location}))
    return f"{server.url}/v1/storage/{name}"


def test_the_file_is_named_from_the_url_passed_not_the_redirect(
    server: ScriptedServer, tmp_path: Path
) -> None:
    url = _redirect_to(server, "r1-out.txt", "/dl/.bashrc")
    server.script("GET", "/dl/.bashrc", Reply(200, b"echo owned"))
    with QueueClient(api_key=KEY, base_url=server.url) as client:
        path = client.download(url, tmp_path)
    assert path == tmp_path / "r1-out.txt"
    assert [p.name for p in tmp_path.iterdir()] == ["r1-out.txt"]


@pytest.mark.anyio
async def test_async_names_the_file_the_same_way(server: ScriptedServer, tmp_path: Path) -> None:
    url = _redirect_to(server, "r1-out.txt", "/dl/evil.sh")
    server.script("GET", "/dl/evil.sh", Reply(200, b"echo owned"))
    async with AsyncQueueClient(api_key=KEY, base_url=server.url) as client:
        path = await client.download(url, tmp_path)
    assert path == tmp_path / "r1-out.txt"


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        (".bashrc", "starts with a dot"),
        ("%2Eprofile", "starts with a dot"),
        ("a%1B%5D0%3Bx%07.txt", "control character"),
        ("rtl%E2%80%AEtxt.exe", "control character"),
    ],
)
def test_a_hidden_or_control_name_is_refused_before_sending(
    server: ScriptedServer, tmp_path: Path, name: str, problem: str
) -> None:
    with QueueClient(api_key=KEY, base_url=server.url) as client:
        with pytest.raises(ConfigurationError, match=problem) as info:
            client.download(f"{server.url}/v1/storage/{name}", tmp_path)
    assert "\x1b" not in str(info.value) and "\u202e" not in str(info.value)
    assert server.requests == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("as_folder", [True, False])
def test_an_existing_file_is_kept_unless_overwrite(
    server: ScriptedServer, tmp_path: Path, as_folder: bool
) -> None:
    server.always("GET", "/v1/storage/r1-out.txt", Reply(200, b"new"))
    existing = tmp_path / "r1-out.txt"
    existing.write_bytes(b"precious")
    dest = tmp_path if as_folder else existing
    url = f"{server.url}/v1/storage/r1-out.txt"
    with QueueClient(api_key=KEY, base_url=server.url) as client:
        with pytest.raises(FileExistsError, match="overwrite=True"):
            client.download(url, dest)
        assert existing.read_bytes() == b"precious"
        assert server.requests == []  # refused before anything was sent
        assert client.download(url, dest, overwrite=True) == existing
    assert existing.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["r1-out.txt"]


def test_a_file_that_appears_during_the_download_is_not_replaced(
    server: ScriptedServer, tmp_path: Path
) -> None:
    dest = tmp_path / "out.bin"
    server.script("GET", "/v1/storage/out.bin", Reply(200, b"new"))

    def appear(received: int, total: int | None) -> None:
        dest.write_bytes(b"written meanwhile")

    with QueueClient(api_key=KEY, base_url=server.url) as client:
        with pytest.raises(FileExistsError):
            client.download(f"{server.url}/v1/storage/out.bin", dest, on_progress=appear)
    assert dest.read_bytes() == b"written meanwhile"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]  # no part file left


def test_userinfo_in_the_url_stays_out_of_error_messages(
    server: ScriptedServer, tmp_path: Path
) -> None:
    server.script("GET", "/v1/storage/gone", Reply(404, {"message": "no file"}))
    host = server.url.removeprefix("http://")
    with QueueClient(api_key=KEY, base_url=server.url) as client:
        with pytest.raises(NotFoundError) as found:
            client.download(f"http://alice:hunter2@{host}/v1/storage/gone", tmp_path / "x")
        with pytest.raises(ConfigurationError) as refused:
            client.download("ftp://alice:hunter2@127.0.0.1/x", tmp_path / "x")
    for error in (found.value, refused.value):
        assert "hunter2" not in str(error) and "alice" not in str(error)
