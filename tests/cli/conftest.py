"""Fixtures of the CLI tests: an emulator on loopback and a runner for `together-queue`."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from together_queue.emulator import EmulatorHandle, start_emulator

CLI = [sys.executable, "-m", "together_queue.cli"]
MODELS = {"echo": "echo", "sleep": "sleep", "fail": "fail"}
RUN_TIMEOUT = 30.0  # seconds: no single CLI run in these tests may take longer


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorHandle]:
    """One emulator for the CLI tests; each test isolates itself with its own model names."""
    with start_emulator(models=MODELS, workers=2) as handle:
        yield handle


@pytest.fixture
def model() -> str:
    """A model name no other test uses, with no in-process handler: its jobs stay pending."""
    return f"held-{uuid.uuid4().hex[:8]}"


def cli_env(url: str | None, **extra: str) -> dict[str, str]:
    """The environment of a CLI run: the emulator's URL, no API key, no colour."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOGETHER_")}
    env["NO_COLOR"] = "1"
    if url is not None:
        env["TOGETHER_BASE_URL"] = url
    env.update(extra)
    return env


def run_cli(
    *args: str, url: str | None, env: Mapping[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `together-queue ARGS` as a subprocess against `url`; return the finished process."""
    return subprocess.run(
        [*CLI, *args],
        env=cli_env(url, **(env or {})),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )


def emulator_jobs(handle: EmulatorHandle, model: str) -> list[dict[str, Any]]:
    """Every job of `model` as the emulator's admin API reports it, in submission order."""
    response = httpx.get(f"{handle.url}/_emulator/jobs", params={"model": model}, timeout=10)
    response.raise_for_status()
    jobs: list[dict[str, Any]] = response.json()["jobs"]
    return jobs


class Running:
    """A CLI run in the background whose stderr is watched, to interrupt it at a known point."""

    def __init__(self, *args: str, env: Mapping[str, str]) -> None:
        self.process = subprocess.Popen(
            [*CLI, *args],
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._out: list[str] = []
        self._err: list[str] = []
        self._lock = threading.Lock()
        self._readers = [
            threading.Thread(target=self._read, args=(stream, into), daemon=True)
            for stream, into in ((self.process.stdout, self._out), (self.process.stderr, self._err))
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: Any, into: list[str]) -> None:
        for chunk in iter(lambda: stream.read(1), ""):
            with self._lock:
                into.append(chunk)

    @property
    def stderr(self) -> str:
        """Everything the run wrote to stderr so far."""
        with self._lock:
            return "".join(self._err)

    def wait_for_stderr(self, text: str, timeout: float = 20.0) -> None:
        """Return once `text` is on stderr; fail if the run ends or `timeout` passes first."""
        deadline = time.monotonic() + timeout
        while text not in self.stderr:
            assert self.process.poll() is None, f"the run ended early: {self.stderr}"
            assert time.monotonic() < deadline, f"no {text!r} on stderr: {self.stderr}"
            time.sleep(0.01)

    def interrupt(self) -> tuple[int, str, str]:
        """Ctrl-C (SIGINT); wait for the end; the exit code, stdout and stderr."""
        try:
            self.process.send_signal(signal.SIGINT)
            code = self.process.wait(timeout=RUN_TIMEOUT)
        finally:
            if self.process.poll() is None:
                self.process.kill()
        for reader in self._readers:
            reader.join(timeout=10)
        with self._lock:
            return code, "".join(self._out), "".join(self._err)


def read_records_lenient(path: Path) -> list[dict[str, Any]]:
    """The line records of a results file being written (a record cut short is skipped)."""
    records = []
    for line in path.read_text().splitlines() if path.exists() else []:
        with contextlib.suppress(ValueError):  # the writer may be in the middle of a line
            records.append(json.loads(line))
    return [r for r in records if "line" in r]
