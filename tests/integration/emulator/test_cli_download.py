"""`together-queue download URL [-o PATH]` against a TLS emulator with a key."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from together_queue import cli
from together_queue.cli.download import PROGRESS_MIN_BYTES
from together_queue.emulator import EmulatorHandle

from .conftest import Factory

KEY = "sk-cli-download"


def _env(emulator: EmulatorHandle) -> dict[str, str]:
    assert emulator.ca_file is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOGETHER_")}
    # The documented way: URL and key from the environment, the CA from SSL_CERT_FILE.
    env.update(TOGETHER_BASE_URL=emulator.url, TOGETHER_API_KEY=KEY, SSL_CERT_FILE=emulator.ca_file)
    return env


def _run(emulator: EmulatorHandle, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "together_queue.cli", "download", *args],
        env=_env(emulator),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.fixture
def emulator(queue_emulator_factory: Factory) -> EmulatorHandle:
    handle = queue_emulator_factory(tls=True, api_keys=[KEY])
    handle.runtime.files.put("r1-report.pdf", b"%PDF-1.7 tiny")
    return handle


def test_download_writes_the_file_and_prints_its_path(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    url = emulator.url + "/v1/storage/r1-report.pdf"
    result = _run(emulator, url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "r1-report.pdf"
    assert (tmp_path / "r1-report.pdf").read_bytes() == b"%PDF-1.7 tiny"
    as_json = _run(emulator, url, "-o", str(tmp_path / "copy.pdf"), "--json", cwd=tmp_path)
    assert json.loads(as_json.stdout) == {"path": str(tmp_path / "copy.pdf"), "bytes": 13}
    assert result.stderr == as_json.stderr == ""  # no progress bar off a terminal


def test_an_unknown_file_exits_3_with_one_line(emulator: EmulatorHandle, tmp_path: Path) -> None:
    result = _run(emulator, emulator.url + "/v1/storage/missing.bin", cwd=tmp_path)
    assert result.returncode == 3
    assert result.stderr.startswith("error: HTTP 404") and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "http://example.com/x.bin"])
def test_a_bad_or_insecure_url_exits_2(url: str, emulator: EmulatorHandle, tmp_path: Path) -> None:
    result = _run(emulator, url, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error:")
    assert KEY not in result.stderr


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_large_download_shows_a_progress_bar_on_a_terminal(
    emulator: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert emulator.ca_file is not None
    emulator.runtime.files.put("big.bin", b"\x07" * (PROGRESS_MIN_BYTES + 1))
    for name, value in _env(emulator).items():
        monkeypatch.setenv(name, value)
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    code = cli.main(["download", emulator.url + "/v1/storage/big.bin", "-o", str(tmp_path)])
    assert code == 0
    assert (tmp_path / "big.bin").stat().st_size == PROGRESS_MIN_BYTES + 1
    assert "big.bin [########################] 4.0 MB / 4.0 MB" in terminal.getvalue()


def test_an_existing_file_is_replaced_only_with_force(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    url = emulator.url + "/v1/storage/r1-report.pdf"
    (tmp_path / "r1-report.pdf").write_bytes(b"mine")
    refused = _run(emulator, url, cwd=tmp_path)
    assert refused.returncode == 2, refused.stderr
    assert "r1-report.pdf exists: pass --force to replace it" in refused.stderr
    assert (tmp_path / "r1-report.pdf").read_bytes() == b"mine"
    forced = _run(emulator, url, "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert (tmp_path / "r1-report.pdf").read_bytes() == b"%PDF-1.7 tiny"


def test_a_url_naming_a_hidden_file_is_refused(emulator: EmulatorHandle, tmp_path: Path) -> None:
    emulator.runtime.files.put(".bashrc", b"echo owned")
    result = _run(emulator, emulator.url + "/v1/storage/.bashrc", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "starts with a dot" in result.stderr
    assert list(tmp_path.iterdir()) == []
