"""The worker API under `/internal/v1`: what Together's worker SDK (sprocket 0.1.4) speaks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
from collections.abc import Mapping
from typing import cast

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from together_queue.emulator import serialize
from together_queue.emulator._http import (
    ApiError,
    Endpoint,
    optional_object,
    query_string,
    read_json_object,
    require_string,
    runtime_of,
)
from together_queue.emulator.config import MAX_CLAIM_TIMEOUT
from together_queue.emulator.public_routes import info_too_large, not_found
from together_queue.emulator.store import (
    InfoTooLarge,
    JobConflict,
    JobNotFound,
    UpdateStatus,
    WorkerInfo,
)

__all__ = ["HANDLERS", "parse_duration"]

logger = logging.getLogger("together_queue.emulator")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$", re.ASCII)
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}
_MAX_NUMBER_TEXT = 32  # longer query numbers are refused before they are parsed


def parse_duration(text: str) -> float:
    """Seconds in `5s`, `500ms`, `2` (seconds) or `1m` (ValueError otherwise)."""
    match = _DURATION.match(text) if len(text) <= _MAX_NUMBER_TEXT else None
    if match is None:
        raise ValueError(f"not a duration: {text[:_MAX_NUMBER_TEXT]!r} (examples: 5s, 500ms, 2)")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _claim_timeout(request: Request) -> float | None:
    """The `claim_timeout` query parameter: seconds in (0, MAX_CLAIM_TIMEOUT], None if absent."""
    text = request.query_params.get("claim_timeout")
    if text is None:
        return None
    value = math.nan
    if len(text) <= _MAX_NUMBER_TEXT and text.isascii():
        with contextlib.suppress(ValueError):
            value = float(text)
    if not (math.isfinite(value) and 0 < value <= MAX_CLAIM_TIMEOUT):
        raise ApiError(
            400,
            "invalid_value",
            f"claim_timeout must be a number of seconds above 0 and at most "
            f"{MAX_CLAIM_TIMEOUT:g}, not {text[:_MAX_NUMBER_TEXT]!r}",
            param="claim_timeout",
        )
    return value


def _worker_info(request: Request) -> WorkerInfo:
    """What the worker says about itself: `hostname` and the headers the SDK sends."""
    headers = request.headers
    return WorkerInfo(
        hostname=request.query_params.get("hostname") or "unknown",
        worker_version=headers.get("x-worker-version"),
        user_agent=headers.get("user-agent"),
        idle_time=headers.get("x-idle-time"),
    )


async def retrieve(request: Request) -> Response:
    """GET /internal/v1/queue/retrieve?model=&timeout=&hostname=[&claim_timeout=] (long poll).

    `/internal/v1/rabbitmq/retrieve`, the path older workers use, is the same handler.
    """
    runtime = await runtime_of(request)
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


async def update(request: Request) -> Response:
    """POST /internal/v1/videos/status: a worker's running/done/failed update."""
    runtime = await runtime_of(request)
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
        raise not_found(request_id) from None
    except InfoTooLarge as exc:
        raise info_too_large(exc) from None
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


HANDLERS: Mapping[str, Endpoint] = {
    "retrieve": retrieve,
    "retrieve_older": retrieve,
    "update": update,
}
"""Route name (`routes.ROUTES`) -> endpoint."""
