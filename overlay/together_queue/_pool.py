"""The client's connection pool: httpcore's, with a request-to-connection assignment that scales.

httpcore 1.0's `_assign_requests_to_connections` has two faults that decide how fast
many requests in flight go (bench/, bulk submit at concurrency 64):

- it keeps an idle connection only while the pool holds at most
  `max_keepalive_connections` connections in all (it counts every connection, not the
  idle ones), so with more requests in flight than that, each finished request closes
  its connection and the next one opens a new one;
- it hands the same idle connection to every request queued in one pass, and to
  requests arriving before the first of them starts on it: all but one fail with
  `ConnectionNotAvailable` and run the whole pass again, O(connections x requests) each;
- every pass (two per request: one as it starts, one as its response closes) asks every
  connection whether it has expired, which for an idle one is a `poll()` system call:
  with 64 connections, 60-90 us of CPU a pass, 20-30% of a sync bulk submit's client CPU.

Whichever of the two a run falls into decides its speed (bulk runs were bimodal). The
pass below counts idle connections only, gives each idle connection to one request, and
skips connections already given to a request that has not started. It looks only at the
connections no request holds, and checks expiry on the idle connection it is about to hand
out, and on every idle one once per `SWEEP_SECONDS` (about 20 us a pass). The rest of the pool
is httpcore's own. Where the installed httpcore has no such pass, its pool is left as is.
"""

from __future__ import annotations

import time
from typing import Any, Final

import httpcore
import httpx

#: The private pool members the pass reads; checked before a pool is given the pass.
_POOL_MEMBERS: Final = (
    "_connections",
    "_requests",
    "_max_connections",
    "_max_keepalive_connections",
    "_http2",
)
#: How often every idle connection is checked for expiry (keep-alive, or closed by the
#: server); a connection is also checked each time it is about to be reused.
SWEEP_SECONDS: Final = 1.0


def assign_requests(pool: Any) -> list[Any]:
    """Assign queued requests to connections; the connections to close (no I/O here).

    Called by the pool with its lock held, as httpcore's own pass is, on every request
    that starts or ends: it touches the connections that are free (idle, closed), not
    every one. Expiry is checked on a connection about to be reused, and on every idle
    one once per `SWEEP_SECONDS`.
    """
    now = time.monotonic()
    sweep = now >= getattr(pool, "_sweep_at", 0.0)
    if sweep:
        pool._sweep_at = now + SWEEP_SECONDS
    closing: list[Any] = []
    idle: list[Any] = []
    dropped: set[Any] = set()
    # In use, or given to a request that has not started on it (it still reads as idle).
    taken = {request.connection for request in pool._requests}
    for connection in [c for c in pool._connections if c not in taken]:
        if connection.is_closed():
            dropped.add(connection)
        elif connection.is_idle():
            if sweep and connection.has_expired():
                dropped.add(connection)
                closing.append(connection)
            else:
                idle.append(connection)
    kept = [c for c in pool._connections if c not in dropped] if dropped else [*pool._connections]
    for request in pool._requests:
        if request.connection is None:
            chosen = _connection_for(pool, request, idle, kept, closing, checked=sweep)
            if chosen is not None:
                request.assign_to_connection(chosen)
    while len(idle) > pool._max_keepalive_connections:
        victim = idle.pop(0)
        kept.remove(victim)
        closing.append(victim)
    pool._connections = kept
    return closing


def _connection_for(
    pool: Any, request: Any, idle: list[Any], kept: list[Any], closing: list[Any], *, checked: bool
) -> Any:
    """The connection `request` goes out on, or None: it stays queued."""
    origin = request.request.url.origin
    for connection in reversed(idle):  # the most recent first: the others may expire
        if not connection.can_handle_request(origin):
            continue
        idle.remove(connection)
        if checked or not connection.has_expired():
            return connection
        kept.remove(connection)  # expired, or closed by the server while idle
        closing.append(connection)
    if pool._http2:
        for connection in kept:
            if connection.can_handle_request(origin) and connection.is_available():
                return connection  # an HTTP/2 connection with room for one more stream
    if len(kept) >= pool._max_connections:
        if not idle:
            return None  # stays queued until a connection frees up
        victim = idle.pop(0)
        kept.remove(victim)
        closing.append(victim)
    connection = pool.create_connection(origin)
    kept.append(connection)
    return connection


class _AsyncPool(httpcore.AsyncConnectionPool):
    def _assign_requests_to_connections(self) -> list[Any]:
        return assign_requests(self)


class _SyncPool(httpcore.ConnectionPool):
    def _assign_requests_to_connections(self) -> list[Any]:
        return assign_requests(self)


def _fix(transport: Any, fixed: type[Any]) -> None:
    pool = getattr(transport, "_pool", None)
    base = fixed.__mro__[1]
    if type(pool) is base and all(hasattr(pool, name) for name in _POOL_MEMBERS):
        pool.__class__ = fixed  # same state, only the assignment pass differs


def use_fair_pools(client: httpx.Client | httpx.AsyncClient) -> None:
    """Give `assign_requests` to the plain connection pools of `client`'s transports.

    Proxy pools, and transports that are not httpx's own, are left as they are.
    """
    for transport in (client._transport, *client._mounts.values()):
        _fix(transport, _SyncPool)
        _fix(transport, _AsyncPool)


def sync_transport(limits: httpx.Limits) -> httpx.HTTPTransport:
    """An `httpx.HTTPTransport` with `limits` whose pool uses `assign_requests`."""
    transport = httpx.HTTPTransport(limits=limits)
    _fix(transport, _SyncPool)
    return transport


def async_transport(limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
    """An `httpx.AsyncHTTPTransport` with `limits` whose pool uses `assign_requests`."""
    transport = httpx.AsyncHTTPTransport(limits=limits)
    _fix(transport, _AsyncPool)
    return transport
