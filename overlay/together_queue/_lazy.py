"""The modules the client loads on first use, not at import: one pattern, in one place.

`from together_queue import QueueClient` loads only what building a client needs
(httpx, the configuration, the auth and retry rules): no attrs, no generated module.
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
    import together_queue_api.models
    from together_queue import _bulk, _calls, _polling
    from together_queue import jobs as _jobs
    from together_queue._async import download as _async_download
    from together_queue._sync import download as _sync_download

    # Assignments, not `import ... as`: what a module assigns, it exports.
    api_models = together_queue_api.models
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
