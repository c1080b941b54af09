"""Fixtures of the client's integration tests: an emulator whose exchanges the test can read."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from together_queue.emulator import EmulatorHandle
from together_queue.testing import queue_emulator, queue_emulator_factory

__all__ = ["queue_emulator", "queue_emulator_factory"]

Factory = Callable[..., EmulatorHandle]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Exchange:
    """One HTTP exchange as the emulator saw it: the request, and the id it answered with."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    status: int = 0
    http_request_id: str | None = None


@dataclass
class Exchanges:
    """Every exchange of one emulator, in the order the requests arrived."""

    seen: list[Exchange] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def to(self, path: str) -> list[Exchange]:
        """The exchanges whose path ends with `path`."""
        with self.lock:
            return [e for e in self.seen if e.path.endswith(path)]


class _Recorder:
    """Outermost ASGI layer: records each request and the `x-request-id` of its answer."""

    def __init__(self, app: ASGIApp, exchanges: Exchanges) -> None:
        self.app = app
        self.exchanges = exchanges

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        exchange = Exchange(
            method=scope["method"],
            path=scope["path"],
            query=scope["query_string"].decode(),
            headers={k.decode().lower(): v.decode() for k, v in scope["headers"]},
        )
        with self.exchanges.lock:
            self.exchanges.seen.append(exchange)

        async def record(message: Message) -> None:
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
                for name, value in message.get("headers", []):
                    if name.lower() == b"x-request-id":
                        exchange.http_request_id = value.decode()
            await send(message)

        await self.app(scope, receive, record)


@pytest.fixture
def recorded_emulator(
    queue_emulator_factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., tuple[EmulatorHandle, Exchanges]]:
    """`start(**overrides)`: an emulator (models echo, sleep, fail) and what it was sent."""
    from together_queue.emulator.app import create_app
    from together_queue.testing import DEFAULT_TEST_MODELS

    def start(**overrides: Any) -> tuple[EmulatorHandle, Exchanges]:
        exchanges = Exchanges()

        def recorded_app(config: Any) -> Any:
            app = create_app(config)
            app.add_middleware(_Recorder, exchanges=exchanges)
            return app

        with monkeypatch.context() as patch:
            # The one seam: `start_emulator` builds its app with the `create_app` it imported.
            patch.setattr("together_queue.emulator.server.create_app", recorded_app)
            overrides.setdefault("models", DEFAULT_TEST_MODELS)
            handle = queue_emulator_factory(**overrides)
        return handle, exchanges

    return start


@pytest.fixture
def recorded(
    recorded_emulator: Callable[..., tuple[EmulatorHandle, Exchanges]],
) -> tuple[EmulatorHandle, Exchanges]:
    """An emulator with models echo, sleep and fail, and what it was sent."""
    return recorded_emulator()
