"""FaultMiddleware: the ASGI layer that injects the faults a FaultInjector decides on.

It sits in front of the routes, so a `before` fault answers without the operation
running at all, and an `after` fault lets the operation run to completion (the job
is stored, the claim made), throws its answer away and answers with the fault.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from together_queue.emulator._http import drain
from together_queue.emulator.auth_middleware import authorized
from together_queue.emulator.faults import FaultInjector, FaultRule
from together_queue.emulator.routes import operation_of
from together_queue_api.models import QueueError

__all__ = ["FaultMiddleware", "InjectedDrop"]

_DROP_DECLARED_LENGTH = 64


class InjectedDrop(httpx.RemoteProtocolError):
    """Raised to cut a connection mid-response.

    Over a socket, uvicorn closes the connection after the response has started and the
    client sees `httpx.RemoteProtocolError`. In process (`httpx.ASGITransport`) this
    exception itself reaches the client, so it is that same httpx type.
    """

    def __init__(self) -> None:
        """Name the injected fault."""
        super().__init__("connection dropped by an injected emulator fault")


class _QuietInjectedDrops(logging.Filter):
    """Keep uvicorn from logging a traceback for each deliberately dropped connection."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], InjectedDrop))


def _install_log_filter() -> None:
    uvicorn_logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietInjectedDrops) for f in uvicorn_logger.filters):
        uvicorn_logger.addFilter(_QuietInjectedDrops())


async def _discard(message: Message) -> None:
    """Swallow the real answer of an operation hit by an `after` fault."""


def _json_error(code: str, message: str, type_: str) -> bytes:
    return json.dumps(QueueError(code=code, message=message, type_=type_).to_dict()).encode()


async def _strike(rule: FaultRule, receive: Receive, send: Send) -> None:
    if rule.kind == "drop":
        if rule.when == "before":
            # Body bytes arriving after the close make the kernel answer with a reset,
            # which the client may see instead of the cut response: read them first.
            await drain(receive)
        # Start a response that promises a body, then fail: the server closes the
        # connection and the client sees an incomplete message.
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(_DROP_DECLARED_LENGTH).encode()),
                ],
            }
        )
        raise InjectedDrop
    headers = [(b"content-type", b"application/json")]
    if rule.kind == "429":
        status = 429
        body = _json_error("rate_limited", "injected fault: too many requests", "rate_limit_error")
        headers.append((b"retry-after", str(rule.retry_after).encode()))
    else:
        status = 500
        body = _json_error(
            "internal_error", "injected fault: internal server error", "server_error"
        )
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


class FaultMiddleware:
    """Inject latency, 500s, 429s and dropped connections into the calls of operations."""

    def __init__(
        self,
        app: ASGIApp,
        injector: FaultInjector,
        pause: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """Wrap `app`; `injector` decides, per call, which fault strikes.

        `pause(seconds)` waits out a latency fault; it returns early when the emulator
        stops, so a held call ends instead of holding the shutdown. A call without a
        good key passes straight to `app` for its 401: faults strike after auth, so
        unauthenticated calls never use up `next=N`.
        """
        self.app = app
        self.injector = injector
        self.pause = pause
        _install_log_filter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI call, with whatever fault the plan draws for it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        operation = operation_of(scope["method"], scope["path"])
        if operation is None or not authorized(scope):
            await self.app(scope, receive, send)
            return
        decision = self.injector.decide(operation)
        if decision.latency_before:
            await self.pause(decision.latency_before)
        rule = decision.error
        if rule is not None and rule.when == "before":
            await _strike(rule, receive, send)
            return
        if rule is not None:
            await self.app(scope, receive, _discard)
            if decision.latency_after:
                await self.pause(decision.latency_after)
            await _strike(rule, receive, send)
            return
        if not decision.latency_after:
            await self.app(scope, receive, send)
            return
        delay = decision.latency_after
        started = False

        async def delayed_send(message: Message) -> None:
            nonlocal started
            if not started:
                started = True
                await self.pause(delay)
            await send(message)

        await self.app(scope, receive, delayed_send)
