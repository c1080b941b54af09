"""The client's connection pool: httpcore's, with a request-to-connection assignment that scales.

httpcore 1.0's `_assign_requests_to_connections` has two faults that decide how fast
many requests in flight go (bench/, bulk submit at concurrency 64):

- it keeps an idle connection only while the pool holds at most
  `max_keepalive_connections` connections in all (it counts every connection, not the
  idle ones), so with more requests in flight than that, each finished request closes
  its connection and the next one opens a new one;
- it hands the same idle connection to every request queued in one pass, and to
  requests arriving before the first of them starts on it: all but one fail with
  `ConnectionNotAvailable` and run the whole pass again, O(connections x requests) each.

Whichever of the two a run falls into decides its speed (bulk runs were bimodal). The
pass below counts idle connections only, gives each idle connection to one request, and
skips connections already given to a request that has not started. The rest of the pool
is httpcore's own. Where the installed httpcore has no such pass, its pool is left as is.
"""

from __future__ import annotations

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


def assign_requests(pool: Any) -> list[Any]:
    """Assign queued requests to connections; the connections to close (no I/O here).

    Called by the pool with its lock held, as httpcore's own pass is.
    """
    closing: list[Any] = []
    kept: list[Any] = []
    for connection in pool._connections:
        if connection.is_closed():
            continue
        if connection.has_expired():
            closing.append(connection)
        else:
            kept.append(connection)
    idle = [c for c in kept if c.is_idle()]
    queued = [request for request in pool._requests if request.connection is None]
    if queued or len(idle) > pool._max_keepalive_connections:
        # A connection given to a request that has not started on it still reads as idle.
        taken = {id(r.connection) for r in pool._requests if r.connection is not None}
        idle = [c for c in idle if id(c) not in taken]
    for request in queued:
        origin = request.request.url.origin
        chosen = next((c for c in reversed(idle) if c.can_handle_request(origin)), None)
        if chosen is not None:
            idle.remove(chosen)  # the most recently used: the others may expire
        elif pool._http2 and (
            chosen := next(
                (c for c in kept if c.can_handle_request(origin) and c.is_available()), None
            )
        ):
            pass  # an HTTP/2 connection with room for one more stream
        else:
            if len(kept) >= pool._max_connections:
                if not idle:
                    continue  # stays queued until a connection frees up
                victim = idle.pop(0)
                kept.remove(victim)
                closing.append(victim)
            chosen = pool.create_connection(origin)
            kept.append(chosen)
        request.assign_to_connection(chosen)
    while len(idle) > pool._max_keepalive_connections:
        victim = idle.pop(0)
        kept.remove(victim)
        closing.append(victim)
    pool._connections = kept
    return closing


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
