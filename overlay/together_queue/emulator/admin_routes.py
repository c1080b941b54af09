"""The admin API under `/_emulator` (not in the spec): health, faults, limits, jobs, claims."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from together_queue._version import __version__
from together_queue.emulator import serialize
from together_queue.emulator._http import ApiError, Endpoint, read_json_object, runtime_of
from together_queue.emulator.faults import FaultPlan
from together_queue.emulator.ratelimit import limits_from_json
from together_queue.emulator.runtime import Runtime

__all__ = ["HANDLERS"]


async def health(request: Request) -> Response:
    """GET /_emulator/health: liveness, version, and the long polls waiting per model."""
    runtime = await runtime_of(request)
    return JSONResponse({"status": "ok", "version": __version__, "waiters": runtime.waiters()})


async def get_faults(request: Request) -> Response:
    """GET /_emulator/faults: the fault plan in force and its remaining counts."""
    runtime = await runtime_of(request)
    return JSONResponse(_faults_json(runtime))


async def set_faults(request: Request) -> Response:
    """POST /_emulator/faults: replace the fault plan (`{"seed", "rules"}`)."""
    runtime = await runtime_of(request)
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
    runtime = await runtime_of(request)
    return JSONResponse(_limits_json(runtime))


async def set_rate_limits(request: Request) -> Response:
    """POST /_emulator/rate-limits: replace the limits (`{"limits": [...]}`), buckets full."""
    runtime = await runtime_of(request)
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
    runtime = await runtime_of(request)
    jobs = runtime.store.jobs(request.query_params.get("model"))
    return JSONResponse({"jobs": [serialize.job_json(job) for job in jobs]})


async def list_claims(request: Request) -> Response:
    """GET /_emulator/claims[?model=]: the claim log, in the order claims were made."""
    runtime = await runtime_of(request)
    claims = runtime.store.claims(request.query_params.get("model"))
    return JSONResponse({"claims": [serialize.claim_json(claim) for claim in claims]})


HANDLERS: Mapping[str, Endpoint] = {
    "health": health,
    "get_faults": get_faults,
    "set_faults": set_faults,
    "get_rate_limits": get_rate_limits,
    "set_rate_limits": set_rate_limits,
    "list_jobs": list_jobs,
    "list_claims": list_claims,
}
"""Route name (`routes.ROUTES`) -> endpoint."""
