"""The emulator as a separate process on loopback, and the admin calls the benchmarks use."""

from __future__ import annotations

import re
import select
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import IO, Any

import httpx

from bench import procmem

_READY = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")
START_DEADLINE_SECONDS = 30.0
STOP_DEADLINE_SECONDS = 15.0
API_KEY = "bench-key"
"""Sent by every client (ours, raw, SDK) so each request carries the same header."""


class EmulatorProcess:
    """`python -m together_queue.emulator --port 0 ...` for the `with` block; `url` is its root."""

    def __init__(
        self,
        *,
        models: Mapping[str, str],
        workers: int,
        faults: Iterable[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.env = None if env is None else dict(env)  # None: this process's environment
        self.args = [sys.executable, "-m", "together_queue.emulator", "--port", "0"]
        self.args += ["--workers", str(workers), "--log-level", "warning"]
        for name, handler in models.items():
            self.args += ["--model", f"{name}={handler}"]
        for spec in faults:
            self.args += ["--fault", spec]
        self.url = ""
        self._proc: subprocess.Popen[str] | None = None
        self.admin = httpx.Client(timeout=120.0)

    @property
    def pid(self) -> int:
        """The emulator's process id."""
        assert self._proc is not None
        return self._proc.pid

    def __enter__(self) -> EmulatorProcess:
        # stderr goes to ours: a crash shows up in the bench output.
        self._proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, text=True, env=self.env)
        assert self._proc.stdout is not None
        self.url = _read_url(self._proc.stdout, self._proc, START_DEADLINE_SECONDS)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.admin.close()
        proc = self._proc
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(STOP_DEADLINE_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_DEADLINE_SECONDS)
        if proc.stdout is not None:
            proc.stdout.close()

    def rss_bytes(self) -> int:
        """The emulator's resident memory now."""
        return procmem.rss_bytes(self.pid)

    def cpu_seconds(self) -> float:
        """CPU seconds the emulator has used."""
        return procmem.cpu_seconds(self.pid)

    def jobs(self, model: str) -> list[dict[str, Any]]:
        """Every job of `model` with its full state (admin API)."""
        response = self.admin.get(f"{self.url}/_emulator/jobs", params={"model": model})
        response.raise_for_status()
        jobs: list[dict[str, Any]] = response.json()["jobs"]
        return jobs

    def set_faults(self, rules: list[str], seed: int) -> None:
        """Replace the fault plan (an empty list turns faults off)."""
        response = self.admin.post(
            f"{self.url}/_emulator/faults", json={"seed": seed, "rules": rules}
        )
        response.raise_for_status()

    def metrics(self, model: str) -> dict[str, Any]:
        """The public metrics of `model` (waiting, running, total)."""
        response = self.admin.get(
            f"{self.url}/v1/queue/metrics",
            params={"model": model},
            headers={"Authorization": f"Bearer {API_KEY}"},
        )
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body


def _read_url(stream: IO[str], proc: subprocess.Popen[str], limit: float) -> str:
    deadline = time.monotonic() + limit
    seen: list[str] = []
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        ready, _, _ = select.select([stream], [], [], 0.2)
        if not ready:
            continue
        line = stream.readline()
        if not line:
            break
        seen.append(line.rstrip())
        match = _READY.search(line)
        if match:
            return match.group(1)
    proc.kill()
    raise RuntimeError(
        f"the emulator did not start within {limit:.0f} s (pid {proc.pid}, "
        f"exit {proc.poll()}): {' / '.join(seen) or 'no output'}"
    )
