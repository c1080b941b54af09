"""A simulated dashboard tab: the requests the page's poller makes, at the page's pace.

It reads the poll intervals from the shipped `poller.js`, so the simulation follows the
page. Each tick asks `/_emulator/overview?since=VERSION`; when the store changed (or the
full refresh is due) it also fetches the jobs view's first screen, as the open page does.
`PageProcess` runs it in a process of its own, as a browser is: a thread in the bench's
own process would take the interpreter lock from the submitting threads it is measured by.

`python -m bench.page_client URL` polls until its standard input closes, prints `loaded`
once the first view is fetched, and the number of requests it made at the end.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from importlib import resources

import httpx

from bench.clients import AUTH

_NAMES = ("POLL_MIN_MS", "POLL_MAX_MS", "FULL_REFRESH_MS")


def poll_intervals() -> dict[str, float]:
    """The page's poll constants in seconds, read from the shipped `poller.js`."""
    source = (
        resources.files("together_queue.emulator.dashboard")
        .joinpath("static", "poller.js")
        .read_text(encoding="utf-8")
    )
    found = {}
    for name in _NAMES:
        match = re.search(rf"export const {name} = (\d+);", source)
        if match is None:
            raise RuntimeError(f"poller.js has no {name}")
        found[name] = int(match.group(1)) / 1000
    return found


class PageClient:
    """Polls like one open dashboard tab on the jobs view, in a thread, until `stop()`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.requests = 0
        self._stop = threading.Event()
        self._loaded = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dashboard-page", daemon=True)
        self._intervals = poll_intervals()

    def wait_started(self, timeout: float = 10.0) -> None:
        """Return once the page has loaded (its first overview and view are fetched)."""
        if not self._loaded.wait(timeout):
            raise RuntimeError(f"the simulated page did not load within {timeout} s")

    def __enter__(self) -> PageClient:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _get(self, client: httpx.Client, path: str, params: dict[str, int]) -> httpx.Response:
        self.requests += 1
        response = client.get(self.url + path, params=params)
        response.raise_for_status()
        return response

    def _run(self) -> None:
        low, high = self._intervals["POLL_MIN_MS"], self._intervals["POLL_MAX_MS"]
        full_every = self._intervals["FULL_REFRESH_MS"]
        version: int | None = None
        delay, last_full = low, 0.0
        with httpx.Client(headers=AUTH, timeout=30.0) as client:
            while not self._stop.is_set():
                full = version is None or time.monotonic() - last_full >= full_every
                params = {} if full or version is None else {"since": version}
                answer = self._get(client, "/_emulator/overview", params).json()
                if full:
                    last_full = time.monotonic()
                if answer["changed"]:
                    version = answer["version"]
                    self._get(client, "/_emulator/jobs/search", {"limit": 50})
                    self._loaded.set()
                    delay = low
                else:
                    delay = min(delay * 2, high)
                self._stop.wait(delay)


class PageProcess:
    """`python -m bench.page_client URL` for the `with` block; `requests` once it ended."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.requests = 0
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> PageProcess:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "bench.page_client", self.url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        return self

    def wait_started(self) -> None:
        """Return once the page has loaded (its first overview and view are fetched)."""
        assert self._proc is not None
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline().strip()
        if line != "loaded":
            raise RuntimeError(f"the simulated page did not load: {line!r}")

    def __exit__(self, *exc: object) -> None:
        proc = self._proc
        assert proc is not None
        assert proc.stdin is not None
        assert proc.stdout is not None
        proc.stdin.close()  # the page stops polling
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
            raise
        out = proc.stdout.read()
        proc.stdout.close()
        self.requests = int(out.strip().splitlines()[-1]) if out.strip() else 0


def main(argv: list[str]) -> int:
    """Poll like an open page on `argv[0]` until stdin closes; print the request count."""
    with PageClient(argv[0]) as page:
        page.wait_started()
        print("loaded", flush=True)
        sys.stdin.read()
    print(page.requests, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
