"""A local, spec-faithful Together Queue service for development, demos and tests.

Run it with ``together-queue emulator`` (or ``python -m together_queue.emulator``),
in a test with ``start_emulator()`` or the ``together_queue.testing`` fixtures, or in
process with ``create_app(EmulatorConfig(...))`` and ``httpx.ASGITransport``.

Routes
------
Public API (the spec, ``openapi.yaml``, under ``/v1``)::

    POST /v1/queue/submit      GET /v1/queue/status?request_id=&model=
    POST /v1/queue/cancel      GET /v1/queue/metrics?model=

Worker API (what Together's worker SDK, sprocket 0.1.4, speaks; same API keys)::

    GET  /internal/v1/queue/retrieve?model=M&timeout=5s&hostname=H[&claim_timeout=S]
         (also at /internal/v1/rabbitmq/retrieve, the path older workers poll)
         long poll -> {"data": {"request_id", "model", "payload", "info", "priority",
         "retries", "created_at", "claim_id", "claim_timeout"}} or {"data": null};
         timeout accepts 5s, 500ms, 2 (seconds) and is capped at 60 s; claim_timeout
         (positive seconds) is this claim's lease, default --claim-timeout. Headers
         x-worker-version, User-Agent and x-idle-time are recorded with the claim.
    POST /internal/v1/videos/status
         {"model", "request_id", "status": "running"|"done"|"failed",
          "payload": {outputs}, "info": {...}, "claim_id": optional}
         running renews the claim by its own lease and merges info; done stores
         payload as the outputs;
         failed fails the job for good. 404 unknown job, 409 when the job is not
         running, (claim_id given) another claim holds it, or (no claim_id) the
         x-worker-version/User-Agent headers match only a lapsed claim of the job; an
         update that cannot be told apart from the holder's is applied and recorded
         as a double run. 400 info_too_large when info would pass 64 KiB.

Storage (worker file outputs; not in the spec)::

    POST /v1/storage/upload-request {"filename"}  -> {"upload_url": {"url"}}: a new
         signed URL per request, taking one PUT of the bytes, no key needed (413 past
         --max-upload-bytes; 409 once used, or while another PUT on it is under way)
    GET  /v1/storage/{filename}  (with the key) -> 307 to a signed download URL
    PUT  /_storage/upload/{filename}?expires=&nonce=&signature=    the signed upload URL
    GET  /_storage/download/{filename}?expires=&nonce=&signature=  the signed download URL
         Files live in memory, or in <db>.files/ beside --db (kept across restarts);
         signed URLs expire (15 min upload, 5 min download) and die with the process.

Admin API (not in the spec; for tests and benchmarks; API keys apply except to health)::

    GET  /_emulator/health     {"status": "ok", "version", "waiters": {model: n}}
    GET  /_emulator/faults     the fault plan in force, with remaining next=N counts
    POST /_emulator/faults     replace it: {"seed": 0, "rules": ["submit:500:next=1:after",
                               {"operation": "status", "kind": "429", "rate": 0.5}, ...]}
    GET  /_emulator/rate-limits    the rate limits in force: {"limits": [...]}
    POST /_emulator/rate-limits    replace them: {"limits": ["submit=200/s,burst=10",
                               {"operation": "status", "rate": 50}, ...]}
    GET  /_emulator/jobs?model=    every job with its full state, in submission order
    GET  /_emulator/claims?model=  the claim log, in the order jobs were claimed, with
                               lapsed_at, refused_updates and double_run per claim

HTTPS: ``--ssl-certfile/--ssl-keyfile``, ``--tls-self-signed DIR`` or
``start_emulator(tls=DIR)`` (see ``together_queue.emulator.tls``).

Only ``config``, ``faults``, ``ratelimit`` and ``cli`` load without the ``[emulator]`` extra; the
names needing starlette/uvicorn (``create_app``, ``start_emulator``, ``EmulatorHandle``)
load on first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from together_queue.emulator.config import EmulatorConfig
from together_queue.emulator.faults import FaultPlan, FaultRule

if TYPE_CHECKING:
    from together_queue.emulator.app import create_app
    from together_queue.emulator.server import EmulatorHandle, start_emulator

__all__ = [
    "EmulatorConfig",
    "EmulatorHandle",
    "FaultPlan",
    "FaultRule",
    "create_app",
    "start_emulator",
]

_LAZY = {
    "create_app": "together_queue.emulator.app",
    "start_emulator": "together_queue.emulator.server",
    "EmulatorHandle": "together_queue.emulator.server",
}


def __getattr__(name: str) -> Any:
    """Import the starlette/uvicorn-backed names only when they are used."""
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value
