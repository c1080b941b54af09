"""The modules the client loads on first use, not at import: one pattern, in one place.

`from together_queue import QueueClient` loads only what building a client needs
(httpx, the configuration, the auth and retry rules): no attrs, no generated module,
no asyncio.
The rest loads with the first call that needs it: the generated layer and `_calls`
with the first request or error response, the attrs classes (`_models`, `_polling`,
`jobs`) with the first result, handle or wait, `_bulk` and the download loops with
the first bulk call or download.

Code names such a module as an attribute of this one (`_lazy.calls.status_call(...)`):
the first access imports it, every later one is a plain attribute lookup. Type
checkers read the assignments below as if they ran.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio as _asyncio

    import together_queue_api.models
    from together_queue import _bulk, _calls, _polling
    from together_queue import jobs as _jobs
    from together_queue._async import download as _async_download
    from together_queue._sync import download as _sync_download
    from together_queue_api.api.queue import cancel_queue_job as _cancel_queue_job
    from together_queue_api.api.queue import clear_queue as _clear_queue
    from together_queue_api.api.queue import get_queue_job_status as _get_queue_job_status
    from together_queue_api.api.queue import get_queue_metrics as _get_queue_metrics
    from together_queue_api.api.queue import submit_queue_job as _submit_queue_job

    # Assignments, not `import ... as`: what a module assigns, it exports.
    api_models = together_queue_api.models
    asyncio = _asyncio
    cancel_queue_job = _cancel_queue_job
    clear_queue = _clear_queue
    get_queue_job_status = _get_queue_job_status
    get_queue_metrics = _get_queue_metrics
    submit_queue_job = _submit_queue_job
    async_download = _async_download
    bulk = _bulk
    calls = _calls
    jobs = _jobs
    polling = _polling
    sync_download = _sync_download

# Name here -> the module it stands for; tests/unit/test_imports.py keeps it in step
# with the assignments above.
_MODULES = {
    "api_models": "together_queue_api.models",
    "asyncio": "asyncio",
    "cancel_queue_job": "together_queue_api.api.queue.cancel_queue_job",
    "clear_queue": "together_queue_api.api.queue.clear_queue",
    "get_queue_job_status": "together_queue_api.api.queue.get_queue_job_status",
    "get_queue_metrics": "together_queue_api.api.queue.get_queue_metrics",
    "submit_queue_job": "together_queue_api.api.queue.submit_queue_job",
    "async_download": "together_queue._async.download",
    "bulk": "together_queue._bulk",
    "calls": "together_queue._calls",
    "jobs": "together_queue.jobs",
    "polling": "together_queue._polling",
    "sync_download": "together_queue._sync.download",
}

# Hidden from type checkers, which read the assignments above instead.
if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        """Import the module `name` stands for, keep it here, return it."""
        module = _MODULES.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = importlib.import_module(module)
        globals()[name] = value
        return value
