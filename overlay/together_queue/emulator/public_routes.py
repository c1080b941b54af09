"""The public API under `/v1/queue`: the spec's operations (`openapi.yaml`)."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from together_queue.emulator import serialize
from together_queue.emulator._http import (
    ApiError,
    Endpoint,
    optional_int,
    optional_object,
    query_string,
    read_json_object,
    require_string,
    runtime_of,
)
from together_queue.emulator.store import InfoTooLarge, JobConflict, JobNotFound
from together_queue_api.models import QueueClearResponse

__all__ = ["HANDLERS", "info_too_large", "not_found"]

_SUBMIT_FIELDS = frozenset({"model", "payload", "priority", "info"})


def not_found(request_id: str) -> ApiError:
    """The 404 for a job this model does not have."""
    return ApiError(
        404,
        "not_found",
        f"no job {request_id!r} for this model",
        type_="not_found_error",
        param="request_id",
    )


def info_too_large(exc: InfoTooLarge) -> ApiError:
    """The 400 for an `info` over the stored-size limit."""
    return ApiError(400, "info_too_large", str(exc), param="info")


async def submit(request: Request) -> Response:
    """POST /v1/queue/submit."""
    runtime = await runtime_of(request)
    body = await read_json_object(request, runtime.config.max_body_bytes)
    model = require_string(body, "model")
    payload = optional_object(body, "payload", required=True)
    assert payload is not None  # required=True
    priority = optional_int(body, "priority", 0)
    info = optional_object(body, "info")
    # Unknown fields are tolerated (forward compatibility) but reported, not silently eaten.
    warnings = tuple(
        f"unknown field {name!r} ignored" for name in sorted(set(body) - _SUBMIT_FIELDS)
    )
    try:
        job = runtime.submit(model, payload, priority=priority, info=info, warnings=warnings)
    except InfoTooLarge as exc:
        raise info_too_large(exc) from None
    return JSONResponse(serialize.submit_body(job))


async def status(request: Request) -> Response:
    """GET /v1/queue/status?request_id=&model=."""
    runtime = await runtime_of(request)
    request_id = query_string(request, "request_id")
    model = query_string(request, "model")
    try:
        job = runtime.store.get(request_id, model)
    except JobNotFound:
        raise not_found(request_id) from None
    return JSONResponse(serialize.status_body(job))


async def cancel(request: Request) -> Response:
    """POST /v1/queue/cancel."""
    runtime = await runtime_of(request)
    body = await read_json_object(request, runtime.config.max_body_bytes)
    model = require_string(body, "model")
    request_id = require_string(body, "request_id")
    try:
        job = runtime.store.cancel(request_id, model)
    except JobNotFound:
        raise not_found(request_id) from None
    except JobConflict as exc:
        return JSONResponse(serialize.cancel_body(exc.status), status_code=409)
    return JSONResponse(serialize.cancel_body(job.status))


async def metrics(request: Request) -> Response:
    """GET /v1/queue/metrics?model=."""
    runtime = await runtime_of(request)
    model = query_string(request, "model")
    waiting, running = runtime.store.metrics(model)
    return JSONResponse(serialize.metrics_body(waiting, running))


async def clear(request: Request) -> Response:
    """POST /v1/queue/clear: cancel every pending job of a model (running ones continue)."""
    runtime = await runtime_of(request)
    body = await read_json_object(request, runtime.config.max_body_bytes)
    model = require_string(body, "model")
    canceled = runtime.store.clear(model)
    return JSONResponse(QueueClearResponse(canceled_count=canceled).to_dict())


HANDLERS: Mapping[str, Endpoint] = {
    "submit": submit,
    "status": status,
    "cancel": cancel,
    "metrics": metrics,
    "clear": clear,
}
"""Route name (`routes.ROUTES`) -> endpoint."""
