"""The ``together-queue emulator`` command: output, options, clean stops."""

from __future__ import annotations

import contextlib
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from together_queue._config import is_loopback_host
from together_queue.emulator import server
from together_queue.emulator.app import create_app
from together_queue.emulator.cli import build_parser, config_from_args, main
from together_queue.emulator.config import EmulatorConfig
from together_queue.emulator.faults import FaultRule

from .helpers import submit, wait_status


def _first_lines(proc: subprocess.Popen[str], count: int, timeout: float = 20.0) -> list[str]:
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout

    def pump() -> None:
        for _ in range(count):
            lines.put(stdout.readline())

    threading.Thread(target=pump, daemon=True).start()
    return [lines.get(timeout=timeout).rstrip("\n") for _ in range(count)]


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_cli_serves_then_stops_cleanly(stop_signal: signal.Signals) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "together_queue.emulator", "--port", "0", "--model", "e=echo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line, *banner, dashboard = _first_lines(proc, 4)
        prefix = "together-queue emulator listening on http://127.0.0.1:"
        assert line.startswith(prefix), line
        url = line.strip().removeprefix("together-queue emulator listening on ")
        assert int(url.rsplit(":", 1)[1]) > 0
        assert dashboard == f"dashboard: {url}/ (open it in a browser)"
        with httpx.Client(base_url=url, timeout=10) as client:
            rid = submit(client, "e", {"hello": "world"})
            assert wait_status(client, "e", rid, {"done"})["outputs"] == {"hello": "world"}
        proc.send_signal(stop_signal)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert out == ""  # the banner was already read: nothing else on stdout
    assert banner == [
        "models served in process: e (echo)",
        "any other model waits for an external worker polling "
        "/internal/v1/queue/retrieve?model=NAME",
    ]


def test_parser_maps_every_option_to_the_config() -> None:
    args = build_parser().parse_args(
        [
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--db",
            "q.db",
            "--workers",
            "3",
            "--model",
            "a=echo",
            "--model",
            "b=pkg.mod:func",
            "--api-key",
            "k1",
            "--api-key",
            "k2",
            "--claim-timeout",
            "0.5",
            "--max-body-bytes",
            "10",
            "--max-retries",
            "1",
            "--fault",
            "submit:500:0.1:after",
            "--fault-seed",
            "9",
        ]
    )
    config = config_from_args(args)
    assert (config.port, config.db, config.workers) == (0, "q.db", 3)
    assert dict(config.models) == {"a": "echo", "b": "pkg.mod:func"}
    assert config.api_keys == ("k1", "k2")
    assert (config.claim_timeout, config.max_body_bytes, config.max_retries) == (0.5, 10, 1)
    assert config.faults.seed == 9
    assert config.faults.rules == (FaultRule("submit", "500", rate=0.1, when="after"),)


def test_help_documents_the_fault_syntax() -> None:
    text = build_parser().format_help()
    assert "OP:KIND:AMOUNT[:WHEN][:OPTION...]" in text
    assert "submit:500:0.1:after" in text


@pytest.mark.parametrize(
    "argv",
    [
        ["--model", "noequals"],
        ["--model", "x=unknown"],
        ["--fault", "submit:500"],
        ["--claim-timeout", "0"],
        ["--claim-timeout", "nan"],
        ["--claim-timeout", "inf"],
        ["--port", "-1"],
        ["--port", "70000"],
        ["--port", "65536"],
    ],
)
def test_bad_options_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "error" in capsys.readouterr().err


def test_unloadable_handler_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--port", "0", "--model", "x=no_such_module_xyz:func"]) == 2
    assert "cannot import 'no_such_module_xyz'" in capsys.readouterr().err


def test_loopback_detection() -> None:
    assert is_loopback_host("127.0.0.1") and is_loopback_host("::1")
    assert is_loopback_host("localhost") and is_loopback_host("127.0.0.2")
    assert not is_loopback_host("0.0.0.0") and not is_loopback_host("192.168.1.5")
    assert not is_loopback_host("example.com")


def test_unusable_database_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    garbage = tmp_path / "not-a-db.sqlite3"
    garbage.write_bytes(b"this is not an SQLite database, not even close" * 100)
    assert main(["--port", "0", "--db", str(garbage)]) == 2
    assert "together-queue emulator:" in capsys.readouterr().err


@pytest.mark.parametrize("port", [-1, 65536, 70000])
def test_config_rejects_out_of_range_ports(port: int) -> None:
    with pytest.raises(ValueError, match="port"):
        EmulatorConfig(port=port)


def test_a_failed_bind_opens_no_store(monkeypatch: pytest.MonkeyPatch) -> None:
    created: list[object] = []

    def recording_create_app(config: EmulatorConfig) -> object:
        created.append(config)
        return create_app(config)

    monkeypatch.setattr(server, "create_app", recording_create_app)
    with contextlib.closing(server.bind_socket("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        # A listening socket holds the port even with SO_REUSEADDR: the bind fails.
        with pytest.raises(OSError), server.start_emulator(port=port):
            pass
    assert created == []  # bound first: no store was opened, so none leaked
    with contextlib.closing(server.bind_socket("127.0.0.1", 0)) as taken:
        in_use = str(taken.getsockname()[1])
        assert main(["--port", in_use]) == 3  # a network error, not "a job failed"
    with server.start_emulator() as emulator:
        assert httpx.get(emulator.url + "/_emulator/health", trust_env=False).status_code == 200
    assert len(created) == 1
