"""The admin JSON the dashboard reads: overview, job pages, one job, workers, files, syntax.

Every route needs the API key when the emulator has keys, like the rest of `/_emulator`.
Times are RFC 3339 strings; `now` in each answer is the server's clock, against which
the page counts lease expiries down.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from together_queue._version import __version__
from together_queue.emulator import serialize
from together_queue.emulator._http import ApiError, runtime_of
from together_queue.emulator.dashboard.rates import RateSampler
from together_queue.emulator.dashboard.syntax import rule_spec, syntax_json
from together_queue.emulator.storage_routes import DOWNLOAD_URL_SECONDS, signed_path

if TYPE_CHECKING:
    from together_queue.emulator.runtime import Runtime

__all__ = ["files", "job_detail", "jobs_page", "overview", "syntax", "workers"]

MAX_PAGE = 200
"""The most jobs one page of `/_emulator/jobs/search` holds."""

_STORAGE_PATH = "/v1/storage/"
_STATUSES = ("pending", "running", "done", "failed", "canceled")


async def _runtime(request: Request) -> Runtime:
    # The key is checked before this runs: these routes are keyed in `routes.ROUTES`.
    return await runtime_of(request)


def _sampler(request: Request, runtime: Runtime) -> RateSampler:
    state = request.app.state
    sampler = getattr(state, "dashboard_rates", None)
    if sampler is None:
        sampler = state.dashboard_rates = RateSampler(runtime.store.totals_at)
    return cast(RateSampler, sampler)


def _time(value: float | None) -> str | None:
    return None if value is None else serialize.rfc3339(value)


def _int_param(request: Request, name: str, default: int | None) -> int | None:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise ApiError(
            400, "invalid_value", f"query parameter {name} must be an integer", param=name
        ) from None


def _text_param(request: Request, name: str) -> str | None:
    return request.query_params.get(name) or None


async def overview(request: Request) -> Response:
    """GET /_emulator/overview[?since=VERSION]: queues, totals, faults, limits.

    With `since` equal to the current `version` (nothing changed in the store), the
    answer is only `{"version", "changed": false, "now"}`: a poll that finds nothing new
    costs a counter read.
    """
    runtime = await _runtime(request)
    version = runtime.store.change_count()
    now = time.time()
    if _int_param(request, "since", None) == version:
        return JSONResponse({"version": version, "changed": False, "now": now})
    counts = runtime.store.status_counts()
    rates = _sampler(request, runtime).sample(counts)
    waiters = runtime.waiters()
    models = sorted(set(counts) | set(runtime.config.models) | set(runtime.last_polls))
    queues = []
    for model in models:
        by_status = counts.get(model, {})
        last_poll = runtime.last_polls.get(model)
        queues.append(
            {
                "model": model,
                "counts": {status: by_status.get(status, 0) for status in _STATUSES},
                **rates.get(
                    model, {"submitted_per_s": 0.0, "finished_per_s": 0.0, "window_s": 0.0}
                ),
                "handler": runtime.config.models.get(model),
                "last_poll": _time(last_poll),
                "waiting_polls": waiters.get(model, 0),
            }
        )
    totals = {status: sum(c.get(status, 0) for c in counts.values()) for status in _STATUSES}
    plan = runtime.faults.plan
    return JSONResponse(
        {
            "version": version,
            "changed": True,
            "now": now,
            "emulator_version": __version__,
            "auth": bool(runtime.config.api_keys),
            "totals": totals,
            "queues": queues,
            "faults": {
                "seed": plan.seed,
                "rules": [rule_spec(rule) for rule in plan.rules],
                "remaining": runtime.faults.remaining(),
            },
            "rate_limits": [_limit_spec(limit.to_json()) for limit in runtime.rate_limits.limits],
        }
    )


def _limit_spec(limit: dict[str, Any]) -> str:
    burst = "" if limit["burst"] is None else f",burst={limit['burst']}"
    return f"{limit['operation']}={limit['rate']:g}/s{burst}"


async def jobs_page(request: Request) -> Response:
    """GET /_emulator/jobs/search?model=&status=&priority=&q=&before=&limit=: newest first.

    `next_before` is the `before` of the next page (null on the last page).
    """
    runtime = await _runtime(request)
    limit = _int_param(request, "limit", 50)
    assert limit is not None
    if not 1 <= limit <= MAX_PAGE:
        raise ApiError(400, "invalid_value", f"limit must be within 1..{MAX_PAGE}", param="limit")
    rows = runtime.store.page(
        model=_text_param(request, "model"),
        status=_text_param(request, "status"),
        priority=_int_param(request, "priority", None),
        text=_text_param(request, "q"),
        before=_int_param(request, "before", None),
        limit=limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    for row in rows:
        for key in ("created_at", "claimed_at", "done_at", "claim_expires_at"):
            row[key] = _time(row[key])
    return JSONResponse(
        {"jobs": rows, "next_before": rows[-1]["seq"] if more else None, "now": time.time()}
    )


def _storage_links(runtime: Runtime, value: object, links: dict[str, str], depth: int) -> None:
    """Collect signed download links for every storage URL found in `value`."""
    if depth > 8 or len(links) >= 100:
        return
    if isinstance(value, dict):
        for item in value.values():
            _storage_links(runtime, item, links, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _storage_links(runtime, item, links, depth + 1)
    elif isinstance(value, str) and _STORAGE_PATH in value and value not in links:
        path = urlsplit(value).path
        if not path.startswith(_STORAGE_PATH):
            return
        name = path.removeprefix(_STORAGE_PATH)
        try:
            exists = runtime.files.exists(name)
        except ValueError:  # not a plain file name
            return
        if exists:
            links[value] = _download_href(runtime, name)


def _download_href(runtime: Runtime, name: str) -> str:
    """A same-origin signed download path for `name` (no key needed, expires)."""
    return signed_path(runtime, "download", name, DOWNLOAD_URL_SECONDS)


async def job_detail(request: Request) -> Response:
    """GET /_emulator/jobs/{request_id}: the job, its claims and its status updates."""
    runtime = await _runtime(request)
    request_id = request.path_params["request_id"]
    job = runtime.store.find(request_id)
    if job is None:
        raise ApiError(
            404, "not_found", f"no job {request_id!r}", type_="not_found_error", param="request_id"
        )
    links: dict[str, str] = {}
    _storage_links(runtime, job.outputs, links, 0)
    claims = []
    for claim in runtime.store.claims_of(job.seq):
        entry = serialize.claim_json(claim)
        entry["current"] = claim.claim_id == job.claim_id
        claims.append(entry)
    history = [
        {"status": update["status"], "info": update["info"], "at": _time(update["at"])}
        for update in runtime.store.updates_of(job.seq)
    ]
    return JSONResponse(
        {
            "job": serialize.job_json(job),
            "links": links,
            "claims": claims,
            "history": history,
            "now": time.time(),
        }
    )


def _claim_state(job_status: str, current: bool) -> str:
    if current:
        return "holding" if job_status == "running" else job_status
    return "lapsed"


async def workers(request: Request) -> Response:
    """GET /_emulator/workers: who holds what now, the latest claims, and polls per model."""
    runtime = await _runtime(request)
    holding = runtime.store.holders()
    for row in holding:
        for key in ("claimed_at", "claim_expires_at"):
            row[key] = _time(row[key])
    claims = []
    for claim, job_status, job_claim_id in runtime.store.recent_claims():
        entry = serialize.claim_json(claim)
        entry["state"] = _claim_state(job_status, claim.claim_id == job_claim_id)
        claims.append(entry)
    polls = {model: _time(at) for model, at in sorted(runtime.last_polls.items())}
    return JSONResponse(
        {
            "holding": holding,
            "claims": claims,
            "last_polls": polls,
            "waiting_polls": runtime.waiters(),
            "in_process": dict(runtime.config.models),
            "now": time.time(),
        }
    )


async def files(request: Request) -> Response:
    """GET /_emulator/files: every stored file with its size and a signed download link."""
    runtime = await _runtime(request)
    listing = [
        {"name": name, "size": size, "href": _download_href(runtime, name)}
        for name, size in runtime.files.listing()
    ]
    return JSONResponse({"files": listing})


async def syntax(request: Request) -> Response:
    """GET /_emulator/syntax: the words of the fault and rate-limit syntax the page checks."""
    await _runtime(request)
    return JSONResponse(syntax_json())
