"""A local, spec-faithful Together Queue service for development, demos and tests.

Run it with `together-queue emulator` (or `python -m together_queue.emulator`),
in a test with `start_emulator()` or the `together_queue.testing` fixtures, or in
process with `create_app(EmulatorConfig(...))` and `httpx.ASGITransport`.

Routes: the public API under `/v1/queue` (the spec), the worker API that Together's
worker SDK speaks under `/internal/v1`, storage for worker outputs under
`/v1/storage` and `/_storage`, and the admin API under `/_emulator`. The route
table, `together_queue.emulator.routes.ROUTES`, is the one list of them (the docs'
route list is generated from it); `faults.FAULT_SYNTAX` and
`ratelimit.RATE_LIMIT_SYNTAX` describe the text forms of fault rules and rate limits.

Dashboard (`together_queue.emulator.dashboard`): the page at `/` (no key needed;
it asks for one and sends it as a bearer header), its assets under `/_dashboard/`.

HTTPS: `--ssl-certfile/--ssl-keyfile`, `--tls-self-signed DIR` or
`start_emulator(tls=DIR)` (see `together_queue.emulator.tls`).

Only `config`, `faults`, `ratelimit`, `routes` and `cli` load without the
`[emulator]` extra; the names needing starlette/uvicorn (`create_app`,
`start_emulator`, `EmulatorHandle`) load on first access.
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
