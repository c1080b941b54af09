"""create_app: the emulator as a Starlette application, built from the route table.

Each group of routes (`routes.ROUTES`) is one module and one `Mount` per URL prefix:
the public API (`public_routes`, `/v1/queue`), the worker API (`worker_routes`,
`/internal/v1`), storage (`storage_routes`, `/v1/storage` and `/_storage`), the admin
API (`admin_routes`, `/_emulator`) and the dashboard (`dashboard`, the page at `/`).
Each middleware has one concern, outermost first: the `x-request-id`, the `Host`
allowlist, the one reading of `Authorization`, rate limits, faults.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import cast

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from together_queue.emulator import (
    admin_routes,
    dashboard,
    public_routes,
    storage_routes,
    worker_routes,
)
from together_queue.emulator._http import ApiError, Endpoint, error_response, unauthorized
from together_queue.emulator.auth_middleware import AuthMiddleware, authorized
from together_queue.emulator.config import EmulatorConfig
from together_queue.emulator.fault_middleware import FaultMiddleware
from together_queue.emulator.host_middleware import HostMiddleware, served_names
from together_queue.emulator.ratelimit_middleware import RateLimitMiddleware
from together_queue.emulator.request_id import RequestIdMiddleware
from together_queue.emulator.routes import ROUTES, RouteSpec
from together_queue.emulator.runtime import Runtime

__all__ = ["GROUPS", "create_app", "mounts"]

GROUPS: Mapping[str, Mapping[str, Endpoint]] = {
    "public": public_routes.HANDLERS,
    "worker": worker_routes.HANDLERS,
    "storage": storage_routes.HANDLERS,
    "admin": admin_routes.HANDLERS,
    "dashboard": dashboard.HANDLERS,
}
"""Route group (`RouteSpec.group`) -> its handlers by route name."""


logger = logging.getLogger("together_queue.emulator")


def _keyed(endpoint: Endpoint) -> Endpoint:
    """`endpoint`, answering 401 first to a call `AuthMiddleware` did not let in."""

    @functools.wraps(endpoint)
    async def checked(request: Request) -> Response:
        if not authorized(request.scope):
            raise unauthorized()
        return await endpoint(request)

    return checked


def _route(spec: RouteSpec) -> Route:
    try:
        endpoint = GROUPS[spec.group][spec.name]
    except KeyError:
        raise ValueError(f"no handler {spec.name!r} in route group {spec.group!r}") from None
    return Route(
        spec.path,
        _keyed(endpoint) if spec.auth else endpoint,
        methods=[spec.method],
        name=spec.name,
    )


def mounts(routes: tuple[RouteSpec, ...] = ROUTES) -> list[BaseRoute]:
    """One `Mount` per prefix of `routes`, in table order, each holding its routes."""
    by_mount: dict[str, list[Route]] = {}
    for spec in routes:
        by_mount.setdefault(spec.mount, []).append(_route(spec))
    return [Mount(prefix, routes=group) for prefix, group in by_mount.items()]


async def _api_error(request: Request, exc: Exception) -> Response:
    return error_response(cast(ApiError, exc))


async def _http_error(request: Request, exc: Exception) -> Response:
    http_exc = cast(HTTPException, exc)
    code = {404: "not_found", 405: "method_not_allowed"}.get(http_exc.status_code, "http_error")
    type_ = "not_found_error" if http_exc.status_code == 404 else "invalid_request_error"
    err = ApiError(
        http_exc.status_code, code, str(http_exc.detail), type_=type_, headers=http_exc.headers
    )
    return error_response(err)


async def _client_gone(request: Request, exc: Exception) -> Response:
    # The caller went away before its body was read (a Ctrl-C mid-send): nothing was
    # stored and nobody reads this answer, so a debug line, not a traceback.
    logger.debug(
        "%s %s: the client disconnected before its body was read", request.method, request.url.path
    )
    return Response(status_code=400)


async def _server_error(request: Request, exc: Exception) -> Response:
    err = ApiError(500, "internal_error", "the emulator failed; see its log", type_="server_error")
    return error_response(err)


def create_app(config: EmulatorConfig) -> Starlette:
    """The emulator as an ASGI app; ValueError if a model's handler cannot be loaded.

    Serve it with uvicorn (`start_emulator` does) or call it in process through
    `httpx.ASGITransport` (with a loopback base URL such as `http://localhost`, or the
    name in `allowed_hosts`); background work starts with the lifespan or the first request.
    """
    runtime = Runtime(config)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await runtime.ensure_started()
        try:
            yield
        finally:
            await runtime.stop()

    app = Starlette(
        routes=mounts(),
        lifespan=lifespan,
        middleware=[
            Middleware(RequestIdMiddleware),  # outermost: every answer carries an id
            Middleware(
                HostMiddleware, allowed_hosts=served_names(config.host, config.allowed_hosts)
            ),
            Middleware(AuthMiddleware, api_keys=config.api_keys),
            Middleware(RateLimitMiddleware, limiter=runtime.rate_limits),
            Middleware(FaultMiddleware, injector=runtime.faults, pause=runtime.pause),
        ],
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            ClientDisconnect: _client_gone,
            Exception: _server_error,
        },
    )
    app.state.runtime = runtime
    return app
