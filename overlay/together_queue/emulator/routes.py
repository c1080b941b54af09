"""The emulator's route table: every route's group, method, path, operation and auth.

`create_app` builds its routes from `ROUTES` (one Starlette `Mount` per prefix, the
handlers from the group's module: `public_routes`, `worker_routes`, `storage_routes`,
`admin_routes`, `dashboard`); the rate-limit and fault layers look operations up in it
(`operation_of`); `OPERATIONS`, the names fault rules and rate limits accept, and the
route list in the docs (`route_list`) are derived from it. This module needs no
starlette, so the CLI's `--help` can read it without the `[emulator]` extra.

To add a group of routes: a module with a `HANDLERS` mapping (route name -> endpoint),
its entries here, and the module in `app.GROUPS`. The mount `""` (the page at `/`) comes
last: a mount matches every path under its prefix.
"""

from __future__ import annotations

import attrs

__all__ = ["OPERATIONS", "ROUTES", "RouteSpec", "operation_of", "route_list"]


@attrs.frozen
class RouteSpec:
    """One route: `method` on `mount + path`, served by `name` in `group`'s handlers.

    `operation` is the name fault rules and rate limits use (None: they never strike
    this route); `auth` says whether the route needs the API key (when keys are set).
    """

    group: str
    mount: str
    method: str
    path: str
    name: str
    summary: str
    operation: str | None = None
    auth: bool = True

    @property
    def full_path(self) -> str:
        """The path a client calls: `mount + path`."""
        return self.mount + self.path


ROUTES: tuple[RouteSpec, ...] = (
    # Public API: the spec (openapi.yaml).
    RouteSpec("public", "/v1/queue", "POST", "/submit", "submit", "submit a job", "submit"),
    RouteSpec(
        "public",
        "/v1/queue",
        "GET",
        "/status",
        "status",
        "a job's status (`?request_id=&model=`)",
        "status",
    ),
    RouteSpec("public", "/v1/queue", "POST", "/cancel", "cancel", "cancel a pending job", "cancel"),
    RouteSpec(
        "public",
        "/v1/queue",
        "GET",
        "/metrics",
        "metrics",
        "a model's counts (`?model=`)",
        "metrics",
    ),
    RouteSpec(
        "public",
        "/v1/queue",
        "POST",
        "/clear",
        "clear",
        "cancel every pending job of a model (running ones continue)",
        "clear",
    ),
    # Worker API: what Together's worker SDK (sprocket 0.1.4) speaks.
    RouteSpec(
        "worker",
        "/internal/v1",
        "GET",
        "/queue/retrieve",
        "retrieve",
        "long poll for a job (`?model=&timeout=&hostname=[&claim_timeout=]`; `timeout` "
        "at most 60 s, `claim_timeout` at most 86400 s)",
        "retrieve",
    ),
    RouteSpec(
        "worker",
        "/internal/v1",
        "GET",
        "/rabbitmq/retrieve",
        "retrieve_older",
        "the same long poll, at the path older workers use",
        "retrieve",
    ),
    RouteSpec(
        "worker",
        "/internal/v1",
        "POST",
        "/videos/status",
        "update",
        "a worker's `running`, `done` or `failed` update (409 from a lapsed claim's "
        "worker; 400 `info_too_large` past 64 KiB of `info`; see Security)",
        "update",
    ),
    # Storage: worker file outputs (not in the spec).
    RouteSpec(
        "storage",
        "/v1/storage",
        "POST",
        "/upload-request",
        "upload_request",
        'a new signed upload URL for `{"filename"}` (each request its own)',
    ),
    RouteSpec(
        "storage",
        "/v1/storage",
        "GET",
        "/{filename}",
        "storage_get",
        "307 to a signed download URL",
    ),
    RouteSpec(
        "storage",
        "/_storage",
        "PUT",
        "/upload/{filename}",
        "signed_upload",
        "the signed upload URL: one PUT of the bytes (then 409), no key",
        auth=False,
    ),
    RouteSpec(
        "storage",
        "/_storage",
        "GET",
        "/download/{filename}",
        "signed_download",
        "the signed download URL: the bytes, no key",
        auth=False,
    ),
    # Admin API: for tests and debugging (not in the spec).
    RouteSpec(
        "admin",
        "/_emulator",
        "GET",
        "/health",
        "health",
        '`{"status": "ok", "version", "waiters": {model: n}}`: long polls waiting per model',
        auth=False,
    ),
    RouteSpec(
        "admin",
        "/_emulator",
        "GET",
        "/faults",
        "get_faults",
        "the fault plan in force, with remaining `next=N` counts",
    ),
    RouteSpec(
        "admin",
        "/_emulator",
        "POST",
        "/faults",
        "set_faults",
        'replace the fault plan: `{"seed", "rules": [...]}`',
    ),
    RouteSpec(
        "admin", "/_emulator", "GET", "/rate-limits", "get_rate_limits", "the rate limits in force"
    ),
    RouteSpec(
        "admin",
        "/_emulator",
        "POST",
        "/rate-limits",
        "set_rate_limits",
        'replace the rate limits: `{"limits": [...]}`',
    ),
    RouteSpec(
        "admin",
        "/_emulator",
        "GET",
        "/jobs",
        "list_jobs",
        "every job with its full state (payload, info, outputs, retries, claim details), "
        "in submission order (`[?model=]`)",
    ),
    RouteSpec(
        "admin",
        "/_emulator",
        "GET",
        "/claims",
        "list_claims",
        "the claim log: which worker (`hostname`, `worker_version`, `user_agent`, "
        "`idle_time`) took which job, with what `claim_timeout`; when it lapsed "
        "(`lapsed_at`), the updates refused from its worker afterwards "
        "(`refused_updates`), and why the job may have run twice (`double_run`) "
        "(`[?model=]`)",
    ),
    # The dashboard: a page at `/`, its assets, and the admin JSON it reads.
    RouteSpec(
        "dashboard",
        "/_emulator",
        "GET",
        "/overview",
        "overview",
        "per-model counts, rates and worker polls, totals, faults and limits as text; with "
        '`?since=` equal to the current `version`, only `{"version", "changed": false, "now"}`',
    ),
    RouteSpec(
        "dashboard",
        "/_emulator",
        "GET",
        "/jobs/search",
        "jobs_search",
        "a page of jobs, newest first (`?model=&status=&priority=&q=&before=&limit=`; "
        "`limit` up to 200, default 50); `next_before` is the `before` of the next page",
    ),
    RouteSpec(
        "dashboard",
        "/_emulator",
        "GET",
        "/jobs/{request_id}",
        "job_detail",
        "one job, its claims and its last 1,000 status updates; `links` maps each storage "
        "URL in its outputs to a signed download path",
    ),
    RouteSpec(
        "dashboard",
        "/_emulator",
        "GET",
        "/workers",
        "workers",
        "running jobs with their worker and lease, the latest 200 claims with their state, "
        "last poll per model",
    ),
    RouteSpec(
        "dashboard",
        "/_emulator",
        "GET",
        "/files",
        "files",
        "stored files with sizes and signed download paths",
    ),
    RouteSpec(
        "dashboard",
        "/_emulator",
        "GET",
        "/syntax",
        "syntax",
        "the words of the fault and rate-limit syntax",
    ),
    RouteSpec(
        "dashboard",
        "/_dashboard",
        "GET",
        "/session",
        "session",
        "whether the JSON routes need a key",
        auth=False,
    ),
    RouteSpec(
        "dashboard",
        "/_dashboard",
        "GET",
        "/{name}",
        "asset",
        "the page's scripts and style sheet",
        auth=False,
    ),
    RouteSpec("dashboard", "", "GET", "/", "page", "the dashboard page", auth=False),
)
"""Every route of the emulator, grouped as the URL space is."""

OPERATIONS: tuple[str, ...] = tuple(
    dict.fromkeys(route.operation for route in ROUTES if route.operation is not None)
)
"""The operation names fault rules and rate limits accept (`*` means all of them)."""

_OPERATION_OF = {
    (route.method, route.full_path): route.operation
    for route in ROUTES
    if route.operation is not None
}


def operation_of(method: str, path: str) -> str | None:
    """The operation a call of `method` on `path` is (None: faults and limits skip it)."""
    return _OPERATION_OF.get((method, path))


def route_list() -> str:
    """The route table as Markdown: one row per route (the docs' route list)."""
    lines = ["| Route | Key | Operation | What it does |", "|---|---|---|---|"]
    for route in ROUTES:
        key = "yes" if route.auth else "no"
        operation = f"`{route.operation}`" if route.operation else ""
        lines.append(
            f"| `{route.method} {route.full_path}` | {key} | {operation} | {route.summary} |"
        )
    return "\n".join(lines) + "\n"
