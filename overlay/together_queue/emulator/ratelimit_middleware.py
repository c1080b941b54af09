"""RateLimitMiddleware: the ASGI layer that refuses calls over a rate limit (429)."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from together_queue.emulator._http import ApiError, drain, error_response
from together_queue.emulator.auth_middleware import authorized
from together_queue.emulator.ratelimit import RateLimiter, retry_after_text
from together_queue.emulator.routes import operation_of

__all__ = ["RateLimitMiddleware"]


class RateLimitMiddleware:
    """Refuse a call of an operation whose token bucket is empty, with `Retry-After`."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        """Wrap `app`; `limiter` holds the buckets.

        A call without a good key passes straight to `app` for its 401: limits apply
        after auth, so unauthenticated calls use no tokens.
        """
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI call, or answer 429 when it comes faster than its limit allows."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        operation = operation_of(scope["method"], scope["path"])
        if operation is None or not authorized(scope):
            await self.app(scope, receive, send)
            return
        wait = self.limiter.take(operation)
        if wait is None:
            await self.app(scope, receive, send)
            return
        await drain(receive)
        err = ApiError(
            429,
            "rate_limited",
            "rate limit exceeded: too many requests",
            type_="rate_limit_error",
            headers={"Retry-After": retry_after_text(wait)},
        )
        await error_response(err)(scope, receive, send)
