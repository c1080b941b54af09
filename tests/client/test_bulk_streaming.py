"""The streaming bulk engine: flat memory, interrupts and errors, no spin, adaptive concurrency."""

from __future__ import annotations

import asyncio
import gc
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.support.scripted_server import Reply, ScriptedServer, status_body
from together_queue import AdaptiveLimit, AsyncQueueClient, Job, QueueClient, SubmitStream
from together_queue._retry import SendObserver

from .conftest import FAST_POLL

SUBMIT = ("POST", "/v1/queue/submit")
STATUS = ("GET", "/v1/queue/status")


# -- memory --------------------------------------------------------------------------------


def _peak_bytes(count: int) -> int:
    """tracemalloc peak while `count` generated items stream through a SubmitStream."""

    def send(item: dict[str, int], observer: SendObserver) -> int:
        observer.on_success()
        return item["n"]

    gc.collect()
    tracemalloc.start()
    try:
        total = 0
        stream = SubmitStream(({"n": n} for n in range(count)), send, concurrency=8)
        for outcome in stream:  # the caller keeps nothing: the engine alone is measured
            total += outcome.index
        stream.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == count * (count - 1) // 2  # every item came back exactly once
    return peak


def test_streaming_submit_memory_does_not_grow_with_the_count() -> None:
    # Measured with tracemalloc (every thread's Python allocations) in one process, at
    # N and 4N items from a generator: O(concurrency), so 4x the items is not 4x the
    # memory. A list- or dict-of-results engine grows by ~100+ bytes an item and fails.
    small = _peak_bytes(3_000)
    large = _peak_bytes(12_000)
    assert large < small * 1.5 + 64 * 1024, (small, large)


# -- interrupts and errors --------------------------------------------------------------------


def test_ctrl_c_in_submit_many_stops_new_submits_and_hands_back_every_stored_job(
    client: QueueClient, server: ScriptedServer
) -> None:
    server.always(*SUBMIT, Reply(200, {"requestId": "r"}, delay=0.1))
    main = threading.get_ident()

    def interrupt_when_started() -> None:
        deadline = time.monotonic() + 10
        while len(server.received(*SUBMIT)) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        signal.pthread_kill(main, signal.SIGINT)

    threading.Thread(target=interrupt_when_started, daemon=True).start()
    with pytest.raises(KeyboardInterrupt) as caught:
        client.submit_many(({"i": i} for i in range(200)), model="m", concurrency=4)
    sent = len(server.received(*SUBMIT))
    assert sent < 20  # no new submit started after Ctrl-C (200 would all have gone)
    outcomes: list[Any] = caught.value.outcomes  # type: ignore[attr-defined]
    assert len(outcomes) == sent and all(o.ok for o in outcomes)  # every stored job back
    assert sorted(o.index for o in outcomes) == sorted({o.index for o in outcomes})


def test_an_items_iterator_that_raises_hands_back_the_jobs_already_stored(
    client: QueueClient, server: ScriptedServer
) -> None:
    server.always(*SUBMIT, Reply(200, {"requestId": "r"}))

    def items() -> Iterator[dict[str, int]]:
        for i in range(5):
            yield {"i": i}
        raise RuntimeError("the source broke")

    with pytest.raises(RuntimeError, match="the source broke") as caught:
        client.submit_many(items(), model="m", concurrency=3)
    outcomes: list[Any] = caught.value.outcomes  # type: ignore[attr-defined]
    assert [o.index for o in outcomes] == [0, 1, 2, 3, 4]
    assert all(o.ok and isinstance(o.value, Job) for o in outcomes)
    assert len(server.received(*SUBMIT)) == 5
    assert "5 job(s) were submitted" in "".join(caught.value.__notes__)


@pytest.mark.anyio
async def test_async_submit_many_leaves_no_orphaned_task_after_an_error(
    server: ScriptedServer,
) -> None:
    server.always(*SUBMIT, Reply(200, {"requestId": "r"}, delay=0.05))

    def items() -> Iterator[dict[str, int]]:
        for i in range(6):
            yield {"i": i}
        raise RuntimeError("the source broke")

    async with AsyncQueueClient(base_url=server.url, max_retries=0) as client:
        with pytest.raises(RuntimeError) as caught:
            await client.submit_many(items(), model="m", concurrency=4)
        ours = [t for t in asyncio.all_tasks() if "_attempt" in repr(t.get_coro())]
        assert ours == []  # no submit task left running
        sent = len(server.received(*SUBMIT))
        outcomes: list[Any] = caught.value.outcomes  # type: ignore[attr-defined]
        assert len(outcomes) == sent == 6
        await asyncio.sleep(0.2)
        assert len(server.received(*SUBMIT)) == sent  # and nothing stored afterwards


@pytest.mark.anyio
async def test_async_submit_iter_streams_outcomes(server: ScriptedServer) -> None:
    server.always(*SUBMIT, Reply(200, {"requestId": "r"}))

    async def collect() -> list[int]:
        seen = []
        async with AsyncQueueClient(base_url=server.url) as client:
            async with client.submit_iter(
                ({"i": i} for i in range(10)), model="m", concurrency=3
            ) as stream:
                async for outcome in stream:
                    assert outcome.ok
                    seen.append(outcome.index)
        return seen

    assert sorted(await collect()) == list(range(10))


# -- no spin ------------------------------------------------------------------------------------


def test_as_completed_does_not_spin_while_every_slot_is_busy(
    client: QueueClient, server: ScriptedServer
) -> None:
    # Every poll takes 0.3 s and both slots stay busy: the loop must block on the
    # answers. A loop that polls for free slots burns a full core (CPU ~= wall time).
    server.always(*STATUS, Reply(200, status_body("r", status="running"), delay=0.3))
    jobs = [client.job(f"r{i}", model="m") for i in range(8)]
    wall0, cpu0 = time.monotonic(), time.process_time()
    outcomes = list(client.as_completed(jobs, timeout=1.5, concurrency=2, poll=FAST_POLL))
    wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
    assert len(outcomes) == 8 and not any(o.ok for o in outcomes)  # all timed out
    assert cpu < 0.25 * wall, (cpu, wall)  # measured: ~0.01 blocking, ~0.6 spinning


# -- adaptive concurrency -------------------------------------------------------------------------


def test_aimd_halves_once_per_window_and_grows_back_by_one() -> None:
    limit = AdaptiveLimit(16)
    for _ in range(8):  # a burst of 429s within one window of answers: one cut
        limit.on_rate_limited(None)
    assert limit.limit == 16  # judged when the window is in
    for _ in range(8):  # half the window refused: the load
        limit.on_success()
    assert limit.limit == 8 and limit.rate_limited == 8
    for _ in range(8):  # the next window: all refused, cut again
        limit.on_rate_limited(None)
    assert limit.limit == 4
    for _ in range(4 + 5 + 6 + 7):  # additive increase: +1 per `limit` successes
        limit.on_success()
    assert limit.limit == 8
    for _ in range(1000):
        limit.on_success()
    assert limit.limit == 16  # never above the user's concurrency


def test_fixed_concurrency_counts_429s_but_keeps_its_limit() -> None:
    limit = AdaptiveLimit(16, adaptive=False)
    limit.on_rate_limited(0.5)
    assert (limit.limit, limit.rate_limited) == (16, 1)
    assert 0 < limit.pause_left() <= 0.5  # Retry-After still pauses new requests


def test_a_submit_refused_with_429_is_resent_and_stored_once(
    client: QueueClient, server: ScriptedServer
) -> None:
    ok = Reply(200, {"requestId": "r"})
    busy = Reply(429, {"error": {"message": "slow down"}}, headers={"Retry-After": "0.05"})
    # Three 429s in a row exhaust the client's own retries (2): the engine resends.
    server.script(*SUBMIT, busy, busy, busy, busy, ok)
    server.always(*SUBMIT, ok)
    stream = client.submit_iter([{"i": 0}], model="m", concurrency=4)
    (outcome,) = list(stream)
    assert outcome.ok
    assert stream.limit.rate_limited == 4
    assert stream.limit.limit < 4  # the 429s lowered the concurrency
    assert len(server.received(*SUBMIT)) == 5


# -- Ctrl-C does not wait for polls in flight ------------------------------------------------

_WAITER = """
import sys
from together_queue import QueueClient
with QueueClient(base_url=sys.argv[1]) as client:
    jobs = [client.submit("held", {"n": n}) for n in range(2)]
    print("waiting", flush=True)
    for outcome in client.as_completed(jobs):
        pass
"""


def test_sync_as_completed_exits_at_once_on_ctrl_c_with_a_poll_in_flight() -> None:
    from together_queue.emulator import FaultPlan, start_emulator

    # Each status call stalls 30 s: a pool joined at exit would hold the process that long.
    plan = FaultPlan.parse(["status:latency:next=1000:seconds=30"])
    with start_emulator(models={}, faults=plan) as emulator:
        process = subprocess.Popen(
            [sys.executable, "-c", _WAITER, emulator.url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "waiting"
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:  # until a status call is being stalled
                remaining = httpx.get(f"{emulator.url}/_emulator/faults", timeout=5).json()
                if remaining["remaining"][0] < 1000:
                    break
                time.sleep(0.05)
            else:
                pytest.fail("no status call reached the emulator")
            process.send_signal(signal.SIGINT)
            process.wait(timeout=10)  # far less than the 30 s the poll in flight has left
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        assert process.returncode != 0


def test_a_stream_dropped_mid_way_lets_its_threads_end(
    client: QueueClient, server: ScriptedServer
) -> None:
    server.always(*SUBMIT, Reply(200, {"requestId": "r"}))

    def submit_threads() -> int:
        return sum(t.name.startswith("together-queue-submit") for t in threading.enumerate())

    stream = client.submit_iter(({"i": i} for i in range(50)), model="m", concurrency=4)
    assert next(stream).ok
    assert submit_threads() >= 4  # (a finished stream's threads may still be ending)
    del stream
    gc.collect()
    deadline = time.monotonic() + 10
    while submit_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert submit_threads() == 0


@pytest.mark.anyio
async def test_async_stream_refills_a_freed_slot_without_waiting_for_the_consumer() -> None:
    # As a semaphore would: a slot freed by an answer goes to the next item at once, not
    # when the consumer next asks (that delay churned the connection pool: half the
    # throughput in nox -s bench). Bounded by one round of outcomes not yet taken.
    from together_queue import AsyncSubmitStream

    started: list[int] = []
    four_started = asyncio.Event()

    async def send(item: int, observer: SendObserver) -> int:
        started.append(item)
        if len(started) >= 4:
            four_started.set()
        await asyncio.sleep(0)
        return item

    stream = AsyncSubmitStream(iter(range(100)), send, concurrency=2)
    first = await stream.__anext__()
    assert first.ok
    # The consumer takes nothing meanwhile: only the stream itself can start items 3 and 4.
    await asyncio.wait_for(four_started.wait(), timeout=5)
    assert len(started) <= 2 + 2 + 1  # in flight + one round of outcomes, not all 100
    rest = await stream.aclose()
    assert sorted(o.index for o in [first, *rest]) == sorted(set(started))


# -- an iterator that waits for its next item -----------------------------------------------


def _paused_items(more: threading.Event) -> Iterator[dict[str, int]]:
    """Two items, then a wait for `more` (a pipe whose writer paused), then a third."""
    yield {"n": 1}
    yield {"n": 2}
    more.wait(timeout=20)
    yield {"n": 3}


def _recording_send(sent: list[int]) -> Callable[[dict[str, int], SendObserver], int]:
    def send(item: dict[str, int], observer: SendObserver) -> int:
        sent.append(item["n"])
        observer.on_success()
        return item["n"]

    return send


def test_outcomes_arrive_while_the_items_iterator_waits_for_its_next_item() -> None:
    sent: list[int] = []
    more = threading.Event()
    stream = SubmitStream(_paused_items(more), _recording_send(sent), concurrency=4)
    try:
        begin = time.monotonic()
        got = {next(stream).unwrap(), next(stream).unwrap()}  # the iterator waits meanwhile
        assert time.monotonic() - begin < 5  # not after the iterator's wait (20 s)
        assert got == {1, 2}
        more.set()
        assert next(stream).unwrap() == 3
        with pytest.raises(StopIteration):
            next(stream)
    finally:
        more.set()
        stream.close()
    assert sorted(sent) == [1, 2, 3]


def test_close_does_not_wait_for_an_iterator_that_waits_and_sends_nothing_after() -> None:
    sent: list[int] = []
    more = threading.Event()
    stream = SubmitStream(_paused_items(more), _recording_send(sent), concurrency=4)
    assert {next(stream).unwrap(), next(stream).unwrap()} == {1, 2}
    begin = time.monotonic()
    assert stream.close() == []
    assert time.monotonic() - begin < 5  # not held by the iterator's wait (20 s)
    more.set()  # the iterator yields its third item after close(): it is not sent
    deadline = time.monotonic() + 5
    while any(t.is_alive() for t in stream._crew.threads) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not any(t.is_alive() for t in stream._crew.threads)
    assert sorted(sent) == [1, 2]
