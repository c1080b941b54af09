"""A caller that goes away in the middle of its request body (a Ctrl-C mid-send)."""

from __future__ import annotations

import logging
import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest

from together_queue.emulator import start_emulator

BODY = b'{"model": "gone", "payload": {"n": 1}}'
GONE = "the client disconnected before its body was read"


def test_a_client_gone_mid_body_is_a_debug_line_and_stores_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with (
        caplog.at_level(logging.DEBUG, logger="together_queue.emulator"),
        start_emulator(models={}) as emulator,
    ):
        where = urlsplit(emulator.url)
        head = (
            "POST /v1/queue/submit HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(BODY)}\r\n\r\n"
        )
        with socket.create_connection((where.hostname, where.port), timeout=10) as conn:
            conn.sendall(head.encode() + BODY[:10])  # then the connection closes, body cut short
        # Unhandled, starlette's ClientDisconnect escapes the app and the server logs a
        # traceback instead of this line.
        deadline = time.monotonic() + 10
        while GONE not in caplog.text:
            assert time.monotonic() < deadline, "the disconnect was not handled"
            time.sleep(0.01)
        metrics = httpx.get(f"{emulator.api_url}/queue/metrics", params={"model": "gone"})
    assert metrics.status_code == 200
    assert metrics.json()["total_jobs"] == 0
