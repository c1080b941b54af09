"""A tiny HTTP server on 127.0.0.1 that answers what a test tells it to (for odd answers)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Seen:
    """One request the fake server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    """What the fake server sends back."""

    status: int
    body: str
    content_type: str = "application/json"


Responder = Callable[[Seen], Answer]


@dataclass
class FakeServer:
    """A running fake server: its base URL and every request it received."""

    url: str
    seen: list[Seen] = field(default_factory=list)


@contextmanager
def fake_server(respond: Responder) -> Iterator[FakeServer]:
    """Serve `respond`'s answers on a free loopback port until the block ends."""
    server_state: list[FakeServer] = []

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            seen = Seen(
                self.command,
                self.path,
                {k.lower(): v for k, v in self.headers.items()},
                self.rfile.read(length),
            )
            server_state[0].seen.append(seen)
            answer = respond(seen)
            data = answer.body.encode()
            self.send_response(answer.status)
            self.send_header("content-type", answer.content_type)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _handle

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: the test reports what matters

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    server_state.append(FakeServer(f"http://127.0.0.1:{httpd.server_address[1]}"))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server_state[0]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)
