"""HTTPS: the emulator's local CA, the CLI's TLS options, and QueueClient trusting the CA."""

from __future__ import annotations

import os
import queue
import re
import signal
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.support.tls import ca_files_read
from together_queue import AsyncQueueClient, QueueClient
from together_queue.emulator.tls import TlsFiles, UnsafeTlsFolder, write_self_signed
from together_queue.errors import APIConnectionError

from .conftest import Factory


def _lines(proc: subprocess.Popen[str], count: int, timeout: float = 20.0) -> list[str]:
    """The first ``count`` stdout lines, read with a deadline."""
    assert proc.stdout is not None
    stdout = proc.stdout
    got: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for _ in range(count):
            got.put(stdout.readline())

    threading.Thread(target=pump, daemon=True).start()
    return [got.get(timeout=timeout).rstrip("\n") for _ in range(count)]


def _banner_until(proc: subprocess.Popen[str], marker: str, limit: int = 10) -> list[str]:
    """Startup lines up to and including the first that holds `marker` (at most `limit`)."""
    lines: list[str] = []
    for _ in range(limit):
        (line,) = _lines(proc, 1)
        lines.append(line)
        if marker in line:
            return lines
    raise AssertionError(f"no line with {marker!r} in the first {limit}: {lines}")


def test_the_local_ca_signs_a_localhost_certificate(tmp_path: Path) -> None:
    files = write_self_signed(tmp_path / "tls")
    assert files == TlsFiles.in_dir(tmp_path / "tls")
    cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
    assert files.key.stat().st_mode & 0o077 == 0  # the private key is the owner's only
    # Written once: a CA the user trusted stays the same on the next start.
    assert write_self_signed(tmp_path / "tls") == files
    assert files.cert.read_bytes() == cert.public_bytes(serialization.Encoding.PEM)


def test_a_new_tls_folder_is_the_owners_only(tmp_path: Path) -> None:
    files = write_self_signed(tmp_path / "new")
    assert (tmp_path / "new").stat().st_mode & 0o777 == 0o700
    assert files.key.stat().st_mode & 0o777 == 0o600


def test_a_symlink_at_a_file_name_is_replaced_never_followed(tmp_path: Path) -> None:
    folder = tmp_path / "tls"
    folder.mkdir(mode=0o700)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    victim.chmod(0o644)
    (folder / "key.pem").symlink_to(victim)
    (folder / "ca.pem").symlink_to(tmp_path / "dangling")
    files = write_self_signed(folder)
    assert victim.read_text() == "keep me"
    assert victim.stat().st_mode & 0o777 == 0o644
    assert not (tmp_path / "dangling").exists()
    for path in (files.ca, files.cert, files.key):
        assert not path.is_symlink()
    assert files.key.stat().st_mode & 0o777 == 0o600
    assert b"PRIVATE KEY" in files.key.read_bytes()


def test_a_key_others_can_read_is_replaced_with_an_owner_only_one(tmp_path: Path) -> None:
    files = write_self_signed(tmp_path / "tls")
    old_key = files.key.read_bytes()
    files.key.chmod(0o644)
    again = write_self_signed(tmp_path / "tls")
    assert again.key.stat().st_mode & 0o777 == 0o600
    assert again.key.read_bytes() != old_key


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o702], ids=oct)
def test_a_folder_others_can_write_to_is_refused(tmp_path: Path, mode: int) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(mode)
    with pytest.raises(UnsafeTlsFolder, match="writable by group or others"):
        write_self_signed(folder)
    assert list(folder.iterdir()) == []


def test_a_planted_file_others_can_write_to_is_refused_not_trusted(tmp_path: Path) -> None:
    files = write_self_signed(tmp_path / "tls")
    planted = files.ca.read_bytes()
    files.ca.chmod(0o666)
    with pytest.raises(UnsafeTlsFolder, match=r"ca\.pem is writable by group or others"):
        write_self_signed(tmp_path / "tls")
    assert files.ca.read_bytes() == planted


def test_a_complete_set_holding_a_symlink_is_refused(tmp_path: Path) -> None:
    files = write_self_signed(tmp_path / "tls")
    elsewhere = tmp_path / "other-ca.pem"
    files.ca.rename(elsewhere)
    files.ca.symlink_to(elsewhere)
    with pytest.raises(UnsafeTlsFolder, match=r"ca\.pem is not a regular file"):
        write_self_signed(tmp_path / "tls")


def _someone_elses(path: Path) -> Path:
    """``path`` owned by another user (root can chown), or a folder root owns."""
    if os.getuid() == 0:
        path.mkdir(mode=0o700)
        os.chown(path, 65534, 65534)
        return path
    return Path("/")


def test_a_folder_another_user_owns_is_refused(tmp_path: Path) -> None:
    folder = _someone_elses(tmp_path / "theirs")
    with pytest.raises(UnsafeTlsFolder, match="belongs to user id"):
        write_self_signed(folder)
    assert not (folder / "key.pem").exists()


def test_files_another_user_planted_are_refused(tmp_path: Path) -> None:
    if os.getuid() != 0:
        pytest.skip("only root can make a file another user owns")
    files = write_self_signed(tmp_path / "tls")
    os.chown(files.ca, 65534, 65534)
    with pytest.raises(UnsafeTlsFolder, match="belongs to user id 65534"):
        write_self_signed(tmp_path / "tls")


def test_queue_client_trusts_the_ca_through_ssl_cert_file(
    queue_emulator_factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator = queue_emulator_factory(tls=True, models={"echo": "echo"}, api_keys=["K"])
    assert emulator.ca_file is not None and emulator.url.startswith("https://127.0.0.1:")
    monkeypatch.setenv("SSL_CERT_FILE", emulator.ca_file)
    with QueueClient(api_key="K", base_url=emulator.url) as client:
        assert client.run("echo", {"over": "tls"}, timeout=10) == {"over": "tls"}


def test_queue_client_trusts_the_ca_through_its_own_http_client(
    queue_emulator_factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    emulator = queue_emulator_factory(tls=True, models={"echo": "echo"})
    with (
        httpx.Client(verify=emulator.ssl_context()) as http,
        QueueClient(api_key="", base_url=emulator.url, http_client=http) as client,
    ):
        assert client.run("echo", {"x": 1}, timeout=10) == {"x": 1}


def test_an_untrusted_ca_is_refused(
    queue_emulator_factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    emulator = queue_emulator_factory(tls=True)
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(emulator.url + "/_emulator/health", trust_env=False)


def _serve(args: list[str], cwd: Path | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "together_queue.emulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
    )


def _stop(proc: subprocess.Popen[str]) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    return err


def test_cli_tls_self_signed_prints_the_https_url_and_how_to_trust_it(tmp_path: Path) -> None:
    tls_dir = tmp_path / "certs"
    proc = _serve(["--tls-self-signed", str(tls_dir), "--model", "e=echo"])
    try:
        first, *_, trust = _banner_until(proc, "SSL_CERT_FILE=")
        url = first.removeprefix("together-queue emulator listening on ")
        assert url.startswith("https://127.0.0.1:"), first
        assert f"SSL_CERT_FILE={tls_dir / 'ca.pem'}" in trust
        context = ssl.create_default_context(cafile=str(tls_dir / "ca.pem"))
        response = httpx.get(url + "/_emulator/health", verify=context, trust_env=False)
        assert response.json()["status"] == "ok"
    finally:
        err = _stop(proc)
    assert proc.returncode == 0, err


def test_cli_prints_an_absolute_ca_path_for_a_relative_folder(tmp_path: Path) -> None:
    proc = _serve(["--tls-self-signed", "certs", "--model", "e=echo"], cwd=tmp_path)
    try:
        *_, trust = _banner_until(proc, "SSL_CERT_FILE=")
        assert f"SSL_CERT_FILE={tmp_path / 'certs' / 'ca.pem'} " in trust
    finally:
        err = _stop(proc)
    assert proc.returncode == 0, err


def test_cli_refuses_a_folder_others_can_write_to(tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared").chmod(0o777)
    proc = _serve(["--tls-self-signed", str(tmp_path / "shared")])
    try:
        _, err = proc.communicate(timeout=20)  # it exits by itself
    finally:
        _stop(proc)
    assert proc.returncode == 2, err
    assert "Traceback" not in err and "writable by group or others" in err


def test_cli_serves_https_with_given_files(tmp_path: Path) -> None:
    files = write_self_signed(tmp_path)
    proc = _serve(["--ssl-certfile", str(files.cert), "--ssl-keyfile", str(files.key)])
    try:
        (first,) = _lines(proc, 1)
        url = first.removeprefix("together-queue emulator listening on ")
        assert url.startswith("https://"), first
        context = ssl.create_default_context(cafile=str(files.ca))
        assert httpx.get(url + "/_emulator/health", verify=context, trust_env=False).is_success
    finally:
        err = _stop(proc)
    assert proc.returncode == 0, err


@pytest.mark.parametrize(
    "args",
    [
        ["--ssl-certfile", "c.pem"],
        ["--ssl-keyfile", "k.pem"],
        ["--tls-self-signed", "d", "--ssl-certfile", "c.pem", "--ssl-keyfile", "k.pem"],
    ],
)
def test_contradictory_tls_options_exit_2(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from together_queue.emulator.cli import main

    assert main(["--port", "0", *args]) == 2
    assert "together-queue emulator:" in capsys.readouterr().err


def test_a_missing_certificate_exits_2_without_a_traceback(tmp_path: Path) -> None:
    proc = _serve(
        ["--ssl-certfile", str(tmp_path / "no.pem"), "--ssl-keyfile", str(tmp_path / "no.key")]
    )
    try:
        _, err = proc.communicate(timeout=20)  # it exits by itself
    finally:
        _stop(proc)
    assert proc.returncode == 2, err
    assert "Traceback" not in err and "no.pem" in err


@pytest.mark.anyio
async def test_async_queue_client_over_tls_runs_and_downloads(
    queue_emulator_factory: Factory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    emulator = queue_emulator_factory(tls=True, models={"echo": "echo"}, api_keys=["K"])
    assert emulator.ca_file is not None
    monkeypatch.setenv("SSL_CERT_FILE", emulator.ca_file)
    emulator.runtime.files.put("r-a.bin", b"async over tls")
    async with AsyncQueueClient(api_key="K", base_url=emulator.url) as client:
        assert await client.run("echo", {"a": 1}, timeout=10) == {"a": 1}
        path = await client.download(emulator.url + "/v1/storage/r-a.bin", tmp_path)
    assert path.read_bytes() == b"async over tls"


def test_a_plain_http_client_never_reads_a_ca_bundle(
    queue_emulator_factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator = queue_emulator_factory(models={"echo": "echo"}, api_keys=["K"])
    read = ca_files_read(monkeypatch)
    # A CA file nobody can read: a client that never opens TLS must not care.
    monkeypatch.setenv("SSL_CERT_FILE", "/nonexistent/ca.pem")
    with QueueClient(api_key="K", base_url=emulator.url) as client:
        assert client.run("echo", {"plain": "http"}, timeout=10) == {"plain": "http"}
    assert read == []


def test_an_unreadable_ssl_cert_file_is_a_typed_error_naming_it(
    queue_emulator_factory: Factory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    emulator = queue_emulator_factory(tls=True, models={"echo": "echo"}, api_keys=["K"])
    missing = tmp_path / "missing-ca.pem"
    monkeypatch.setenv("SSL_CERT_FILE", str(missing))
    with QueueClient(api_key="K", base_url=emulator.url) as client:
        with pytest.raises(APIConnectionError, match=_unreadable(missing)):
            client.submit("echo", {"x": 1})


@pytest.mark.anyio
async def test_an_unreadable_ssl_cert_file_is_a_typed_error_naming_it_async_too(
    queue_emulator_factory: Factory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    emulator = queue_emulator_factory(tls=True, models={"echo": "echo"}, api_keys=["K"])
    missing = tmp_path / "missing-ca.pem"
    monkeypatch.setenv("SSL_CERT_FILE", str(missing))
    async with AsyncQueueClient(api_key="K", base_url=emulator.url) as client:
        with pytest.raises(APIConnectionError, match=_unreadable(missing)):
            await client.submit("echo", {"x": 1})


def _unreadable(path: Path) -> str:
    """What the connection error says of a CA file it cannot read (a pattern)."""
    return re.escape(f"cannot read the CA certificates in '{path}'")
