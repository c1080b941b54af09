"""create_app: the Starlette application of the emulator (public, worker and admin routes)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from together_queue._version import __version__
from together_queue.emulator import serialize
from together_queue.emulator._http import (
    ApiError,
    check_auth,
    error_response,
    optional_int,
    optional_object,
    query_string,
    read_json_object,
    require_string,
)
from together_queue.emulator.config import EmulatorConfig
from together_queue.emulator.dashboard import dashboard_routes
from together_queue.emulator.fault_middleware import FaultMiddleware
from together_queue.emulator.faults import FaultPlan
from together_queue.emulator.ratelimit import limits_from_json
from together_queue.emulator.request_id import RequestIdMiddleware
from together_queue.emulator.runtime import Runtime
from together_queue.emulator.storage_routes import storage_routes
from together_queue.emulator.store import (
    InfoTooLarge,
    JobConflict,
    JobNotFound,
    UpdateStatus,
    WorkerInfo,
)
from together_queue_api.models import QueueClearResponse

__all__ = ["OLD_RETRIEVE_PATH", "RETRIEVE_PATH", "create_app", "parse_duration"]

logger = logging.getLogger("together_queue.emulator")

RETRIEVE_PATH = "/internal/v1/queue/retrieve"
"""Where Together's worker SDK (sprocket 0.1.4) long-polls for a job."""

OLD_RETRIEVE_PATH = "/internal/v1/rabbitmq/retrieve"
"""The path older workers poll; the same handler as ``RETRIEVE_PATH``."""

_SUBMIT_FIELDS = frozenset({"model", "payload", "priority", "info"})
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}


def parse_duration(text: str) -> float:
    """Seconds in ``5s``, ``500ms``, ``2`` (seconds) or ``1m`` (ValueError otherwise)."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"not a duration: {text!r} (examples: 5s, 500ms, 2)")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _info_too_large(exc: InfoTooLarge) -> ApiError:
    return ApiError(400, "info_too_large", str(exc), param="info")


def _not_found(request_id: str) -> ApiError:
    return ApiError(
        404,
        "not_found",
        f"no job {request_id!r} for this model",
        type_="not_found_error",
        param="request_id",
    )


async def _runtime(request: Request, *, auth: bool = True) -> Runtime:
    runtime = cast(Runtime, request.app.state.runtime)
    # In process (httpx.ASGITransport) nobody sends lifespan events: start on first use.
    await runtime.ensure_started()
    if auth:
        check_auth(request, runtime.config.api_keys)
    return runtime


# -- public API (/v1/queue/...) ---------------------------------------------------------


async def submit(request: Request) -> Response:
    """POST /v1/queue/submit."""
    runtime = await _runtime(request)
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
        raise _info_too_large(exc) from None
    return JSONResponse(serialize.submit_body(job))


async def status(request: Request) -> Response:
    """GET /v1/queue/status?request_id=&model=."""
    runtime = await _runtime(request)
    request_id = query_string(request, "request_id")
    model = query_string(request, "model")
    try:
        job = runtime.store.get(request_id, model)
    except JobNotFound:
        raise _not_found(request_id) from None
    return JSONResponse(serialize.status_body(job))


async def cancel(request: Request) -> Response:
    """POST /v1/queue/cancel."""
    runtime = await _runtime(request)
    body = await read_json_object(request, runtime.config.max_body_bytes)
    model = require_string(body, "model")
    request_id = require_string(body, "request_id")
    try:
        job = runtime.store.cancel(request_id, model)
    except JobNotFound:
        raise _not_found(request_id) from None
    except JobConflict as exc:
        return JSONResponse(serialize.cancel_body(exc.status), status_code=409)
    return JSONResponse(serialize.cancel_body(job.status))


async def metrics(request: Request) -> Response:
    """GET /v1/queue/metrics?model=."""
    runtime = await _runtime(request)
    model = query_string(request, "model")
    waiting, running = runtime.store.metrics(model)
    return JSONResponse(serialize.metrics_body(waiting, running))


async def clear(request: Request) -> Response:
    """POST /v1/queue/clear: cancel every pending job of a model (running ones continue)."""
    runtime = await _runtime(request)
    body = await read_json_object(request, runtime.config.max_body_bytes)
    model = require_string(body, "model")
    canceled = runtime.store.clear(model)
    return JSONResponse(QueueClearResponse(canceled_count=canceled).to_dict())


# -- worker API (/internal/v1/...) -----------------------------------------------------


def _claim_timeout(request: Request) -> float | None:
    """The ``claim_timeout`` query parameter: positive finite seconds, or None if absent."""
    text = request.query_params.get("claim_timeout")
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ApiError(
            400,
            "invalid_value",
            f"claim_timeout must be a positive, finite number of seconds, not {text!r}",
            param="claim_timeout",
        )
    return value


def _worker_info(request: Request) -> WorkerInfo:
    """What the worker says about itself: ``hostname`` and the headers the SDK sends."""
    headers = request.headers
    return WorkerInfo(
        hostname=request.query_params.get("hostname") or "unknown",
        worker_version=headers.get("x-worker-version"),
        user_agent=headers.get("user-agent"),
        idle_time=headers.get("x-idle-time"),
    )


async def retrieve(request: Request) -> Response:
    """GET /internal/v1/queue/retrieve?model=&timeout=&hostname=[&claim_timeout=] (long poll).

    ``/internal/v1/rabbitmq/retrieve``, the path older workers use, is the same handler.
    """
    runtime = await _runtime(request)
    model = query_string(request, "model")
    try:
        timeout = parse_duration(request.query_params.get("timeout", "5s"))
    except ValueError as exc:
        raise ApiError(400, "invalid_value", str(exc), param="timeout") from None
    claim_timeout = _claim_timeout(request)
    worker = _worker_info(request)
    runtime.note_poll(model)
    claim = asyncio.ensure_future(
        runtime.claim(model, worker.hostname, timeout, claim_timeout=claim_timeout, worker=worker)
    )
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait((claim, gone), return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
    if not claim.done():
        # The worker hung up: stop waiting, or the claim would go to nobody and lapse.
        # Safe to cancel: store.claim is synchronous, so a waiting poll holds no job.
        claim.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await claim
        return Response(status_code=499)
    job = claim.result()
    if job is None:
        return JSONResponse({"data": None})
    logger.debug(
        "claim of %s (%s) by hostname=%s worker_version=%s user_agent=%s idle_time=%s, "
        "lasting %s s",
        job.request_id,
        model,
        worker.hostname,
        worker.worker_version,
        worker.user_agent,
        worker.idle_time,
        job.claim_timeout,
    )
    return JSONResponse({"data": serialize.worker_job_json(job, runtime.config.claim_timeout)})


async def worker_status(request: Request) -> Response:
    """POST /internal/v1/videos/status: a worker's running/done/failed update."""
    runtime = await _runtime(request)
    body = await read_json_object(request, runtime.config.max_body_bytes)
    model = require_string(body, "model")
    request_id = require_string(body, "request_id")
    new_status = require_string(body, "status")
    if new_status not in ("running", "done", "failed"):
        raise ApiError(
            400, "invalid_value", "status must be running, done or failed", param="status"
        )
    outputs = None if body.get("payload") is None else optional_object(body, "payload")
    info = None if body.get("info") is None else optional_object(body, "info")
    claim_id = body.get("claim_id")
    if claim_id is not None and not isinstance(claim_id, str):
        raise ApiError(400, "invalid_type", "claim_id must be a string", param="claim_id")
    try:
        job = runtime.update(
            request_id,
            model,
            cast(UpdateStatus, new_status),
            outputs=outputs,
            info=info,
            claim_id=claim_id,
            sender=_worker_info(request),
        )
    except JobNotFound:
        raise _not_found(request_id) from None
    except InfoTooLarge as exc:
        raise _info_too_large(exc) from None
    except JobConflict as exc:
        raise ApiError(
            409,
            "job_not_claimed",
            str(exc),
            type_="conflict_error",
            param="request_id",
            extra={"status": exc.status},
        ) from None
    return JSONResponse({"request_id": job.request_id, "status": job.status})


async def _disconnected(request: Request) -> None:
    """Return once the client has closed the connection (a GET has no body to read)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


# -- admin API (/_emulator/...) --------------------------------------------------------


async def health(request: Request) -> Response:
    """GET /_emulator/health: liveness, version, and the long polls waiting per model."""
    runtime = await _runtime(request, auth=False)
    return JSONResponse({"status": "ok", "version": __version__, "waiters": runtime.waiters()})


async def get_faults(request: Request) -> Response:
    """GET /_emulator/faults: the fault plan in force and its remaining counts."""
    runtime = await _runtime(request)
    return JSONResponse(_faults_json(runtime))


async def set_faults(request: Request) -> Response:
    """POST /_emulator/faults: replace the fault plan (``{"seed", "rules"}``)."""
    runtime = await _runtime(request)
    body = await read_json_object(request, runtime.config.max_body_bytes)
    try:
        plan = FaultPlan.from_json(body)
    except ValueError as exc:
        raise ApiError(400, "invalid_value", str(exc), param="rules") from None
    runtime.faults.set_plan(plan)
    return JSONResponse(_faults_json(runtime))


def _faults_json(runtime: Runtime) -> dict[str, Any]:
    return {**runtime.faults.plan.to_json(), "remaining": runtime.faults.remaining()}


async def get_rate_limits(request: Request) -> Response:
    """GET /_emulator/rate-limits: the rate limits in force."""
    runtime = await _runtime(request)
    return JSONResponse(_limits_json(runtime))


async def set_rate_limits(request: Request) -> Response:
    """POST /_emulator/rate-limits: replace the limits (``{"limits": [...]}``), buckets full."""
    runtime = await _runtime(request)
    body = await read_json_object(request, runtime.config.max_body_bytes)
    try:
        limits = limits_from_json(body)
    except ValueError as exc:
        raise ApiError(400, "invalid_value", str(exc), param="limits") from None
    runtime.rate_limits.set_limits(limits)
    return JSONResponse(_limits_json(runtime))


def _limits_json(runtime: Runtime) -> dict[str, Any]:
    return {"limits": [limit.to_json() for limit in runtime.rate_limits.limits]}


async def list_jobs(request: Request) -> Response:
    """GET /_emulator/jobs[?model=]: every job with its full state, in submission order."""
    runtime = await _runtime(request)
    jobs = runtime.store.jobs(request.query_params.get("model"))
    return JSONResponse({"jobs": [serialize.job_json(job) for job in jobs]})


async def list_claims(request: Request) -> Response:
    """GET /_emulator/claims[?model=]: the claim log, in the order claims were made."""
    runtime = await _runtime(request)
    claims = runtime.store.claims(request.query_params.get("model"))
    return JSONResponse({"claims": [serialize.claim_json(claim) for claim in claims]})


# -- the application -------------------------------------------------------------------


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


async def _server_error(request: Request, exc: Exception) -> Response:
    err = ApiError(500, "internal_error", "the emulator failed; see its log", type_="server_error")
    return error_response(err)


def create_app(config: EmulatorConfig) -> Starlette:
    """The emulator as an ASGI app; ValueError if a model's handler cannot be loaded.

    Serve it with uvicorn (``start_emulator`` does) or call it in process through
    ``httpx.ASGITransport``; background work starts with the lifespan or the first request.
    """
    runtime = Runtime(config)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await runtime.ensure_started()
        try:
            yield
        finally:
            await runtime.stop()

    routes = [
        Route("/v1/queue/submit", submit, methods=["POST"]),
        Route("/v1/queue/status", status, methods=["GET"]),
        Route("/v1/queue/cancel", cancel, methods=["POST"]),
        Route("/v1/queue/metrics", metrics, methods=["GET"]),
        Route("/v1/queue/clear", clear, methods=["POST"]),
        Route(RETRIEVE_PATH, retrieve, methods=["GET"]),
        Route(OLD_RETRIEVE_PATH, retrieve, methods=["GET"]),
        Route("/internal/v1/videos/status", worker_status, methods=["POST"]),
        *storage_routes(),
        Route("/_emulator/health", health, methods=["GET"]),
        Route("/_emulator/faults", get_faults, methods=["GET"]),
        Route("/_emulator/faults", set_faults, methods=["POST"]),
        Route("/_emulator/rate-limits", get_rate_limits, methods=["GET"]),
        Route("/_emulator/rate-limits", set_rate_limits, methods=["POST"]),
        Route("/_emulator/jobs", list_jobs, methods=["GET"]),
        Route("/_emulator/claims", list_claims, methods=["GET"]),
        *dashboard_routes(),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[
            Middleware(RequestIdMiddleware),  # outermost: fault answers carry an id too
            Middleware(
                FaultMiddleware,
                injector=runtime.faults,
                api_keys=config.api_keys,
                limiter=runtime.rate_limits,
            ),
        ],
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            Exception: _server_error,
        },
    )
    app.state.runtime = runtime
    return app
