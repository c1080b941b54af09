"""What `together-queue emulator` says at start and while it runs, and what it refuses."""

from __future__ import annotations

import ast
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from together_queue.emulator.cli import build_parser, config_from_args, main

from .helpers import submit

PACKAGE = Path(__file__).resolve().parents[3] / "overlay" / "together_queue"


def _serve(*options: str) -> tuple[subprocess.Popen[str], str]:
    """Start the emulator CLI on a free port; the process and its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "together_queue.emulator", "--port", "0", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the banner's first line, printed once serving
    assert line.startswith("together-queue emulator listening on "), line
    return proc, line.strip().removeprefix("together-queue emulator listening on ")


def _stop(proc: subprocess.Popen[str]) -> str:
    """Stop with Ctrl-C; its stderr."""
    try:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, err
    return err


def test_debug_log_level_prints_each_claim_and_no_key_is_announced() -> None:
    proc, url = _serve("--log-level", "debug")
    try:
        with httpx.Client(base_url=url, timeout=10, trust_env=False) as client:
            rid = submit(client, "ext", {})
            params = {"model": "ext", "timeout": "0", "hostname": "gpu-7"}
            claimed = client.get("/internal/v1/queue/retrieve", params=params).json()["data"]
            assert claimed["request_id"] == rid
    finally:
        err = _stop(proc)
    assert f"claim of {rid} (ext) by hostname=gpu-7" in err, err
    assert "warning: no API key" in err


def test_a_keyed_start_does_not_warn_about_keys() -> None:
    proc, _ = _serve("--api-key", "k")
    err = _stop(proc)
    assert "no API key" not in err


@pytest.mark.parametrize("key", ["clé", "tab\tkey"])
def test_a_key_no_client_can_send_exits_2_at_start(
    key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--port", "0", "--api-key", "fine", "--api-key", key]) == 2
    err = capsys.readouterr().err
    assert "API key number 2" in err and "printable ASCII" in err
    assert key not in err


def test_claim_timeout_option_past_the_cap_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--claim-timeout", "1e300"])
    assert exit_info.value.code == 2
    assert "at most 86400" in capsys.readouterr().err


def test_allowed_host_option_reaches_the_config() -> None:
    args = build_parser().parse_args(["--allowed-host", "queue.lan", "--allowed-host", "*"])
    assert config_from_args(args, environ={}).allowed_hosts == ("queue.lan", "*")


def _module_level_imports(path: Path) -> set[str]:
    """Modules `path` imports outside functions (those load with it)."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_no_import_loop_between_the_cli_and_emulator_packages() -> None:
    # The emulator never imports the CLI package; the CLI loads the emulator only when a
    # command runs (inside a function), so neither package needs the other to load.
    for path in (PACKAGE / "emulator").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("together_queue.cli"), path
    for path in (PACKAGE / "cli").rglob("*.py"):
        loaded = _module_level_imports(path)
        assert not any(name.startswith("together_queue.emulator") for name in loaded), path
