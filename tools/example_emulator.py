"""A page's emulator command, run as written, for the example runner (tools/run_examples.py).

A page states the emulator its examples run against in a ```` ```bash emulator ````
block: one `together-queue emulator ...` command. The runner starts exactly that
command (on a free port: `--port 0` is appended) in the page's directory and gives the
examples what a reader would export after starting it: `TOGETHER_BASE_URL`, the key
when the command names one (`--api-key`, `--api-key-file`), and `SSL_CERT_FILE` for
`--tls-self-signed DIR`.

While examples run, the emulator's output is watched: when it warns that jobs of a
model wait that nothing serves, `on_unserved` is called at once with the model, so an
example waiting for such a model fails in seconds instead of waiting out its timeout.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

START_DEADLINE_SECONDS = 60.0
STOP_DEADLINE_SECONDS = 10.0
_LISTENING = re.compile(r"listening on (?P<url>https?://\S+)")
_UNSERVED = re.compile(r"job\(s\) of model '(?P<model>[^']*)' wait")


class EmulatorCommandError(Exception):
    """The page's emulator command is not one `together-queue emulator` command, or failed."""


def parse_command(code: str) -> list[str]:
    """The arguments of the one `together-queue emulator ...` command in `code`."""
    text = code.replace("\\\n", " ").strip()
    try:
        words = shlex.split(text, comments=True)
    except ValueError as exc:
        raise EmulatorCommandError(f"cannot read the emulator command: {exc}") from None
    if words[:2] != ["together-queue", "emulator"] or "\n" in text:
        raise EmulatorCommandError(
            "an emulator block holds one `together-queue emulator ...` command "
            f"(lines may end in a backslash), not {text!r}"
        )
    return words[1:]


def _option(args: list[str], name: str) -> list[str]:
    """Every value given to option `name` in `args` (`--name V` or `--name=V`)."""
    values = []
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            values.append(args[i + 1])
        elif arg.startswith(name + "="):
            values.append(arg.split("=", 1)[1])
    return values


class PageEmulator:
    """The emulator a page's command starts: its process, URL and the reader's environment."""

    def __init__(self, code: str, cwd: Path, env: dict[str, str]) -> None:
        self.args = parse_command(code)
        self.command = "together-queue " + shlex.join(self.args)
        self.cwd = cwd
        self.output: list[str] = []
        self.unserved: list[str] = []
        self.on_unserved: Callable[[str], None] = lambda model: None
        self._listening = threading.Event()
        self._url = ""
        self._process = subprocess.Popen(
            ["together-queue", *self.args, "--port", "0"],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + START_DEADLINE_SECONDS
        while not self._listening.wait(0.05):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise EmulatorCommandError(
                    f"`{self.command}` did not start serving:\n" + "".join(self.output)
                )

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self.output.append(line)
            listening = _LISTENING.search(line)
            if listening and not self._listening.is_set():
                self._url = listening["url"]
                self._listening.set()
            unserved = _UNSERVED.search(line)
            if unserved:
                self.unserved.append(unserved["model"])
                self.on_unserved(unserved["model"])

    @property
    def url(self) -> str:
        """The URL the emulator announced (on the free port it bound)."""
        return self._url

    def environment(self) -> dict[str, str]:
        """What a reader exports to use this emulator: URL, key, trusted CA."""
        env = {"TOGETHER_BASE_URL": self.url}
        keys = _option(self.args, "--api-key")
        for name in _option(self.args, "--api-key-file"):
            lines = (self.cwd / name).read_text(encoding="utf-8").split()
            keys += lines[:1]
        if keys:
            env["TOGETHER_API_KEY"] = keys[0]
        for folder in _option(self.args, "--tls-self-signed"):
            env["SSL_CERT_FILE"] = str((self.cwd / folder / "ca.pem").resolve())
        return env

    def stop(self) -> None:
        """Stop the emulator (SIGTERM, then SIGKILL after a deadline) and its reader."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(STOP_DEADLINE_SECONDS)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(STOP_DEADLINE_SECONDS)
        self._reader.join(STOP_DEADLINE_SECONDS)
        if self._process.stdout is not None:
            self._process.stdout.close()

    def tail(self, lines: int = 15) -> str:
        """The last `lines` lines the emulator printed."""
        return "".join(self.output[-lines:])


def closed_url() -> tuple[str, Callable[[], None]]:
    """A loopback URL that refuses connections, and the function that releases it.

    The port is bound and never listened on, so no other process can take it while a
    page without an emulator command runs: a call to the service fails at once.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}", sock.close


def executable_path() -> str:
    """PATH with this interpreter's scripts first, so `together-queue` is this checkout's."""
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
