"""The pool's request-to-connection pass (`_pool.assign_requests`), on stand-in connections.

Each rule is also run against httpcore's own pass, marked as an expected failure: those
rows show what the client's pool changes (and that these tests can fail).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpcore
import pytest

from together_queue._pool import assign_requests

ORIGIN = "http://127.0.0.1:8000"


class FakeConnection:
    """An HTTP/1.1 connection: idle, or busy with one request."""

    def __init__(self, name: str, *, idle: bool = True, origin: str = ORIGIN) -> None:
        self.name = name
        self.idle = idle
        self.origin = origin

    def is_closed(self) -> bool:
        return False

    def has_expired(self) -> bool:
        return False

    def is_idle(self) -> bool:
        return self.idle

    def is_available(self) -> bool:
        return self.idle

    def can_handle_request(self, origin: str) -> bool:
        return origin == self.origin

    def __repr__(self) -> str:
        return self.name


class FakeUrl:
    origin = ORIGIN


class FakeHttpRequest:
    url = FakeUrl()


class FakeRequest:
    """A request in the pool: queued until given a connection."""

    def __init__(self, connection: FakeConnection | None = None) -> None:
        self.request = FakeHttpRequest()
        self.connection = connection

    def assign_to_connection(self, connection: FakeConnection) -> None:
        self.connection = connection

    def is_queued(self) -> bool:
        return self.connection is None


class FakePool:
    """The members of an httpcore pool that the pass reads."""

    def __init__(
        self,
        connections: list[FakeConnection],
        requests: list[FakeRequest],
        *,
        max_connections: int = 10,
        max_keepalive: int = 10,
    ) -> None:
        self._connections = connections
        self._requests = requests
        self._max_connections = max_connections
        self._max_keepalive_connections = max_keepalive
        self._http2 = False
        self.created = 0

    def create_connection(self, origin: str) -> FakeConnection:
        self.created += 1
        return FakeConnection(f"new{self.created}", idle=True)


Pass = Callable[[Any], list[Any]]
OURS = pytest.param(assign_requests, id="ours")
HTTPCORE = pytest.param(
    httpcore.AsyncConnectionPool._assign_requests_to_connections,
    id="httpcore",
    marks=pytest.mark.xfail(strict=True, reason="httpcore 1.0's own pass"),
)
BOTH = pytest.mark.parametrize("assign", [OURS, HTTPCORE])


@BOTH
def test_an_idle_connection_goes_to_one_queued_request(assign: Pass) -> None:
    idle = FakeConnection("idle")
    first, second = FakeRequest(), FakeRequest()
    pool = FakePool([idle], [first, second])
    assign(pool)
    assert first.connection is idle
    assert second.connection is not None and second.connection is not idle
    assert pool.created == 1


@BOTH
def test_a_connection_given_to_a_request_not_started_is_not_given_again(assign: Pass) -> None:
    idle = FakeConnection("idle")
    waiting = FakeRequest(idle)  # assigned, not started: the connection still reads idle
    arriving = FakeRequest()
    pool = FakePool([idle], [waiting, arriving])
    assign(pool)
    assert arriving.connection is not idle


@BOTH
def test_keep_alive_counts_idle_connections_only(assign: Pass) -> None:
    busy = [FakeConnection(f"busy{n}", idle=False) for n in range(3)]
    idle = FakeConnection("idle")
    pool = FakePool([*busy, idle], [FakeRequest(c) for c in busy], max_keepalive=2)
    closing = assign(pool)
    assert closing == []
    assert idle in pool._connections


def test_idle_connections_beyond_keep_alive_are_closed_oldest_first() -> None:
    idle = [FakeConnection(f"idle{n}") for n in range(4)]
    pool = FakePool(list(idle), [], max_keepalive=2)
    closing = assign_requests(pool)
    assert closing == idle[:2]
    assert pool._connections == idle[2:]


def test_a_full_pool_with_nothing_idle_leaves_the_request_queued() -> None:
    busy = [FakeConnection(f"busy{n}", idle=False) for n in range(2)]
    queued = FakeRequest()
    pool = FakePool(list(busy), [*(FakeRequest(c) for c in busy), queued], max_connections=2)
    assert assign_requests(pool) == []
    assert queued.connection is None
    assert pool.created == 0


def test_a_full_pool_closes_an_idle_connection_to_another_origin_to_make_room() -> None:
    busy = FakeConnection("busy", idle=False)
    elsewhere = FakeConnection("elsewhere", origin="http://127.0.0.1:9000")
    queued = FakeRequest()
    pool = FakePool([busy, elsewhere], [FakeRequest(busy), queued], max_connections=2)
    assert assign_requests(pool) == [elsewhere]
    assert queued.connection is not None and queued.connection.name == "new1"
    assert pool._connections == [busy, queued.connection]


class CountingConnection(FakeConnection):
    """A FakeConnection that counts expiry checks and can be expired."""

    def __init__(self, name: str, *, idle: bool = True, expired: bool = False) -> None:
        super().__init__(name, idle=idle)
        self.expired = expired
        self.expiry_checks = 0

    def has_expired(self) -> bool:
        self.expiry_checks += 1
        return self.expired


def _after_sweep(pool: FakePool) -> FakePool:
    """`pool` as it is once a pass has swept it (the next sweep is `SWEEP_SECONDS` away)."""
    assign_requests(pool)
    return pool


def test_an_expired_idle_connection_is_closed_not_handed_out() -> None:
    stale = CountingConnection("stale")
    fresh = CountingConnection("fresh")
    pool = _after_sweep(FakePool([fresh, stale], []))
    stale.expired = True  # closed by the server since the sweep
    queued = FakeRequest()
    pool._requests.append(queued)
    assert assign_requests(pool) == [stale]
    assert queued.connection is fresh
    assert pool._connections == [fresh]


def test_a_pass_checks_expiry_only_on_the_connection_it_hands_out() -> None:
    busy = [CountingConnection(f"busy{n}", idle=False) for n in range(8)]
    idle = [CountingConnection(f"idle{n}") for n in range(3)]
    pool = _after_sweep(FakePool([*busy, *idle], [FakeRequest(c) for c in busy]))
    before = [c.expiry_checks for c in busy + idle]
    pool._requests.append(FakeRequest())
    assign_requests(pool)
    checks = [c.expiry_checks - b for c, b in zip(busy + idle, before, strict=True)]
    assert checks == [0] * 8 + [0, 0, 1]  # the most recent idle one, handed out


def test_idle_connections_are_swept_for_expiry_every_sweep_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import time

    import together_queue._pool as pool_module

    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    idle = CountingConnection("idle")
    pool = _after_sweep(FakePool([idle], []))
    idle.expired = True
    assert assign_requests(pool) == []  # within the interval: left alone
    now[0] += pool_module.SWEEP_SECONDS
    assert assign_requests(pool) == [idle]
    assert pool._connections == []


def test_a_closed_connection_no_request_holds_is_dropped() -> None:
    closed = FakeConnection("closed", idle=False)
    closed.is_closed = lambda: True  # type: ignore[method-assign]
    queued = FakeRequest()
    pool = FakePool([closed], [queued], max_connections=1)
    assert assign_requests(pool) == []
    assert queued.connection is not None and queued.connection.name == "new1"
    assert pool._connections == [queued.connection]
