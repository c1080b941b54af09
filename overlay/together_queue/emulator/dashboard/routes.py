"""The dashboard's routes: the page at `/`, its assets under `/_dashboard/`, its JSON.

The page and its assets need no key (they hold no data); the JSON routes need one when
the emulator has keys. Every asset is answered with a strict Content-Security-Policy:
scripts and styles from this origin only, no inline code, no framing.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from typing import TYPE_CHECKING, cast

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from together_queue.emulator._http import ApiError, Endpoint
from together_queue.emulator.dashboard import admin

if TYPE_CHECKING:
    from together_queue.emulator.runtime import Runtime

__all__ = ["ASSETS", "ASSET_PREFIX", "HANDLERS", "read_asset"]

ASSET_PREFIX = "/_dashboard/"
"""Where the page's scripts and style sheet are served."""

_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}

_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _asset_names() -> frozenset[str]:
    folder = resources.files(__package__).joinpath("static")
    return frozenset(
        entry.name
        for entry in folder.iterdir()
        if entry.is_file() and any(entry.name.endswith(ext) for ext in _MEDIA_TYPES)
    )


ASSETS = _asset_names()
"""The file names in `static/` the emulator serves (nothing else is reachable)."""


def read_asset(name: str) -> bytes:
    """The bytes of the shipped asset `name` (KeyError if it is not one)."""
    if name not in ASSETS:
        raise KeyError(name)
    return resources.files(__package__).joinpath("static", name).read_bytes()


def _asset_response(name: str) -> Response:
    media_type = _MEDIA_TYPES["." + name.rpartition(".")[2]]
    return Response(read_asset(name), media_type=media_type, headers=_SECURITY_HEADERS)


async def page(request: Request) -> Response:
    """GET /: the dashboard page."""
    return _asset_response("index.html")


async def asset(request: Request) -> Response:
    """GET /_dashboard/{name}: one of the page's scripts or its style sheet."""
    name = request.path_params["name"]
    if name not in ASSETS:
        raise ApiError(404, "not_found", f"no dashboard file {name!r}", type_="not_found_error")
    return _asset_response(name)


async def session(request: Request) -> Response:
    """GET /_dashboard/session: whether the JSON routes need a key (so the page asks once)."""
    runtime = cast("Runtime", request.app.state.runtime)
    return JSONResponse({"auth": bool(runtime.config.api_keys)}, headers=_SECURITY_HEADERS)


HANDLERS: Mapping[str, Endpoint] = {
    "page": page,
    "session": session,
    "asset": asset,
    "overview": admin.overview,
    "jobs_search": admin.jobs_page,
    "job_detail": admin.job_detail,
    "workers": admin.workers,
    "files": admin.files,
    "syntax": admin.syntax,
}
"""Route name (`routes.ROUTES`, group `dashboard`) -> endpoint."""
