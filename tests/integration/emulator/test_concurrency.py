"""Many concurrent submitters and in-process workers: every job processed exactly once."""

from __future__ import annotations

import threading
from collections import Counter

from .conftest import Api, Factory
from .helpers import claims, jobs, metrics, submit, wait_for

SUBMITTERS = 8
JOBS_EACH = 500
WORKERS = 4


def test_concurrent_submitters_and_workers_lose_and_repeat_nothing(
    queue_emulator_factory: Factory, api: Api
) -> None:
    emulator = queue_emulator_factory(models={"echo": "echo"}, workers=WORKERS)
    submitted: list[list[str]] = [[] for _ in range(SUBMITTERS)]
    errors: list[BaseException] = []

    def submitter(index: int) -> None:
        try:
            client = api(emulator)
            for n in range(JOBS_EACH):
                submitted[index].append(submit(client, "echo", {"s": index, "n": n}))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=submitter, args=(i,)) for i in range(SUBMITTERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    total = SUBMITTERS * JOBS_EACH
    all_ids = [rid for ids in submitted for rid in ids]
    assert len(all_ids) == total and len(set(all_ids)) == total

    client = api(emulator)
    wait_for(
        lambda: metrics(client, "echo") == (0, 0, 0),
        timeout=60,
        interval=0.1,
        what="the workers to drain the queue",
    )
    everything = jobs(client, "echo")
    assert len(everything) == total
    by_id = {job["request_id"]: job for job in everything}
    assert set(by_id) == set(all_ids)
    for index, ids in enumerate(submitted):
        for n, rid in enumerate(ids):
            job = by_id[rid]
            assert job["status"] == "done"
            assert job["outputs"] == {"s": index, "n": n}
            assert job["claim_count"] == 1
    claim_counts = Counter(c["request_id"] for c in claims(client, "echo"))
    assert len(claim_counts) == total and set(claim_counts.values()) == {1}
    hostnames = {c["hostname"] for c in claims(client, "echo")}
    assert hostnames <= {f"emulator-echo-{i}" for i in range(WORKERS)}
