"""AuthMiddleware: the one reading of `Authorization`, whose verdict every later layer uses.

The rate-limit and fault layers and the routes that need the key ask `authorized(scope)`
instead of reading the header again, so that no two layers can read different headers.
A call with more than one `Authorization` header is refused (400) before anything else.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from together_queue.emulator._http import ApiError, drain, error_response, is_authorized

__all__ = ["AuthMiddleware", "authorized"]

_VERDICT = "together_queue.emulator.authorized"


def authorized(scope: Scope) -> bool:
    """Whether `AuthMiddleware` let this call's key in (False when it did not run)."""
    return scope.get("state", {}).get(_VERDICT) is True


class AuthMiddleware:
    """Read the `Authorization` header once per call and record whether the key is good."""

    def __init__(self, app: ASGIApp, api_keys: tuple[str, ...]) -> None:
        """Wrap `app`; `api_keys` empty turns auth off (every call is authorized)."""
        self.app = app
        self.api_keys = api_keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Record the verdict for an HTTP call (400 for two headers), then pass it on."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        values = [value for name, value in scope["headers"] if name.lower() == b"authorization"]
        if len(values) > 1:
            await drain(receive)
            err = ApiError(
                400,
                "invalid_authorization",
                f"the request has {len(values)} Authorization headers; send exactly one",
                param="Authorization",
            )
            await error_response(err)(scope, receive, send)
            return
        header = values[0].decode("latin-1") if values else ""
        scope.setdefault("state", {})[_VERDICT] = is_authorized(header, self.api_keys)
        await self.app(scope, receive, send)
