"""RequestIdMiddleware: an `x-request-id` on every response, as a hosted API sends one.

Each HTTP exchange gets its own id (`req_` and 24 hex digits), so a client's error
messages, raw responses and log lines can name the exchange the server saw. It is an
id of the exchange, not of a job: a job's id is its `request_id` field.
"""

from __future__ import annotations

import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["REQUEST_ID_HEADER", "RequestIdMiddleware", "new_request_id"]

REQUEST_ID_HEADER = b"x-request-id"


def new_request_id() -> str:
    """A fresh id for one exchange: `req_` and 24 hex digits."""
    return "req_" + secrets.token_hex(12)


class RequestIdMiddleware:
    """Add `x-request-id` to each HTTP response that does not carry one yet."""

    def __init__(self, app: ASGIApp) -> None:
        """Wrap `app`."""
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the exchange through, adding the header to the response start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id().encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == REQUEST_ID_HEADER for name, _ in headers):
                    headers.append((REQUEST_ID_HEADER, request_id))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)
