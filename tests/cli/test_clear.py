"""`together-queue clear`: confirmation on a terminal, --yes elsewhere, the count, --json."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time

import httpx

from together_queue.emulator import EmulatorHandle

from .conftest import CLI, RUN_TIMEOUT, cli_env, emulator_jobs, run_cli


def _submit(handle: EmulatorHandle, model: str, n: int) -> None:
    with httpx.Client(base_url=handle.url, timeout=10) as http:
        for i in range(n):
            body = {"model": model, "payload": {"i": i}}
            assert http.post("/v1/queue/submit", json=body).status_code == 200


def _statuses(handle: EmulatorHandle, model: str) -> list[str]:
    return [job["status"] for job in emulator_jobs(handle, model)]


def _run_on_terminal(handle: EmulatorHandle, model: str, answer: bytes) -> tuple[int, str, str]:
    """Run `clear --model M` with a pseudo-terminal as stdin, answering the prompt."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(
            [*CLI, "clear", "--model", model],
            stdin=follower,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=cli_env(handle.url),
        )
        os.close(follower)
        follower = -1
        # The terminal buffers the answer until the command reads it after its prompt.
        os.write(leader, answer)
        out, err = proc.communicate(timeout=RUN_TIMEOUT)
        # Drain the terminal (its echo of our answer) so that nothing blocks.
        deadline = time.monotonic() + 1
        while time.monotonic() < deadline and select.select([leader], [], [], 0.05)[0]:
            try:
                os.read(leader, 1024)
            except OSError:
                break
        return proc.returncode, out.decode(), err.decode()
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)


def test_clear_refuses_without_yes_off_a_terminal(emulator: EmulatorHandle, model: str) -> None:
    _submit(emulator, model, 2)
    result = run_cli("clear", "--model", model, url=emulator.url, stdin="y\n")
    assert result.returncode == 2
    assert "--yes" in result.stderr and "not a terminal" in result.stderr
    assert _statuses(emulator, model) == ["pending", "pending"]


def test_clear_with_yes_prints_the_count(emulator: EmulatorHandle, model: str) -> None:
    _submit(emulator, model, 3)
    result = run_cli("clear", "--model", model, "--yes", url=emulator.url)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"canceled 3 pending job(s) of {model}\n"
    assert _statuses(emulator, model) == ["canceled"] * 3


def test_clear_json(emulator: EmulatorHandle, model: str) -> None:
    _submit(emulator, model, 2)
    result = run_cli("clear", "--model", model, "-y", "--json", url=emulator.url)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"model": model, "canceled_count": 2}


def test_clear_asks_on_a_terminal_and_a_yes_clears(emulator: EmulatorHandle, model: str) -> None:
    _submit(emulator, model, 2)
    code, out, err = _run_on_terminal(emulator, model, b"y\n")
    assert code == 0, err
    assert f"Cancel all 2 pending job(s) of model {model!r}?" in err
    assert out == f"canceled 2 pending job(s) of {model}\n"
    assert _statuses(emulator, model) == ["canceled"] * 2


def test_clear_on_a_terminal_a_no_clears_nothing(emulator: EmulatorHandle, model: str) -> None:
    _submit(emulator, model, 2)
    code, out, err = _run_on_terminal(emulator, model, b"\n")
    assert code == 1
    assert out == ""
    assert "nothing was cleared" in err
    assert _statuses(emulator, model) == ["pending", "pending"]


def test_clear_empty_model_is_a_usage_error(emulator: EmulatorHandle) -> None:
    result = run_cli("clear", "--model", "", "--yes", url=emulator.url)
    assert result.returncode == 2
    assert "model" in result.stderr and "Traceback" not in result.stderr
