"""`together-queue demo`: the whole product on an embedded emulator, checked as it runs.

One worker serves `demo/video` (the `sleep` handler, which reports progress). A
warm-up job occupies it; then a batch is submitted in an order that differs from
the one the queue must run it in (several priorities, FIFO within one), one job
is canceled while pending, and two more go to `demo/echo` and `demo/fail`. The
demo shows the jobs live; then it clears a backlog of `demo/video` while one of its
jobs runs (the pending ones are canceled, the running one finishes); then the order
they were claimed in, the results and the metrics, and checks every one of those
against what the queue promises: any violation exits 1, so the demo doubles as a smoke test.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from together_queue._extras import INSTALL_EMULATOR
from together_queue.cli.common import EXIT_JOB, EXIT_OK, EXIT_USAGE
from together_queue.cli.demo_view import DemoView
from together_queue.cli.output import failure_reason, render_metrics

if TYPE_CHECKING:
    from together_queue._models import CancelResult, ClearResult, JobStatus, QueueMetrics
    from together_queue.client import QueueClient
    from together_queue.jobs import Job

VIDEO: Final = "demo/video"
ECHO: Final = "demo/echo"
FAIL: Final = "demo/fail"
MODELS: Final = {VIDEO: "sleep", ECHO: "echo", FAIL: "fail"}
WORKERS: Final = 1  # one worker per model: the processing order is the queue's order
FAIL_MESSAGE: Final = "out of memory (on purpose)"
CLEAR_BACKLOG: Final = 3  # pending demo/video jobs the clear step cancels
_RUNNING_DEADLINE = 10.0  # seconds for the warm-up job to be claimed
_WAIT_DEADLINE = 25.0  # seconds for the whole batch to finish


@dataclass(frozen=True)
class Spec:
    """One demo job: a name to show, where it goes, and what it asks."""

    name: str
    model: str
    priority: int
    payload: dict[str, Any]
    cancel: bool = False


WARM_UP: Final = Spec("warm-up", VIDEO, 0, {"seconds": 2.0})
# Submission order; the queue must run demo/video by priority, then FIFO.
BATCH: Final = (
    Spec("backfill", VIDEO, 0, {"seconds": 0.6}),
    Spec("normal-1", VIDEO, 5, {"seconds": 0.6}),
    Spec("urgent-1", VIDEO, 10, {"seconds": 0.6}),
    Spec("normal-2", VIDEO, 5, {"seconds": 0.6}),
    Spec("stale", VIDEO, 1, {"seconds": 0.6}, cancel=True),
    Spec("urgent-2", VIDEO, 10, {"seconds": 0.6}),
    Spec("echo", ECHO, 0, {"text": "hello from the queue"}),
    Spec("broken", FAIL, 0, {"message": FAIL_MESSAGE}),
)


@dataclass
class Tracked:
    """A demo job as it goes: its spec, submission position, handle and last status."""

    spec: Spec
    index: int
    job: Job
    status: JobStatus | None = None
    cancel: CancelResult | None = None
    progress_seen: set[float] = field(default_factory=set)


@dataclass(frozen=True)
class ClearStep:
    """The clear step: what clear answered, the backlog after it, the running job's end."""

    result: ClearResult
    backlog: list[JobStatus]
    running: JobStatus


@dataclass(frozen=True)
class Check:
    """One promise the demo verified, and whether it held."""

    name: str
    ok: bool
    detail: str = ""


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the demo; 0 when every check holds, 1 when one fails, 2 without the emulator extra."""
    try:
        from together_queue.emulator import start_emulator
    except ModuleNotFoundError as exc:
        if exc.name and not exc.name.startswith("together_queue"):
            print(f"error: the demo needs the emulator: {INSTALL_EMULATOR}", file=sys.stderr)
            return EXIT_USAGE
        raise
    from together_queue._polling import PollPolicy
    from together_queue.client import QueueClient

    started = time.monotonic()
    view = DemoView(json_mode=args.json)
    # Fast polling: the jobs are short and the server is on this machine.
    poll = PollPolicy(initial=0.05, multiplier=1.5, max_interval=0.2)
    with (
        start_emulator(models=MODELS, workers=WORKERS) as emulator,
        # api_key="": the demo never sends the user's real key, even to loopback.
        QueueClient(api_key="", base_url=emulator.url, poll=poll) as client,
    ):
        view.intro(emulator.url, MODELS, WORKERS)
        tracked = _submit(client, view)
        # While the warm-up holds the worker, the rest of the demo/video batch waits.
        busy = client.metrics(VIDEO)
        view.note(f"metrics now: {render_metrics(busy)}")
        _watch(client, tracked, view)
        cleared = _clear_step(client, view)
        order = processing_order(tracked)
        metrics = [client.metrics(model) for model in MODELS]
    checks = verify(tracked, order, busy, metrics, cleared)
    view.report(
        tracked, order, [busy, *metrics], checks, time.monotonic() - started, cleared=cleared
    )
    return EXIT_OK if all(check.ok for check in checks) else EXIT_JOB


def _submit(client: QueueClient, view: DemoView) -> list[Tracked]:
    warm_up = client.submit(WARM_UP.model, WARM_UP.payload, priority=WARM_UP.priority)
    tracked = [Tracked(WARM_UP, 0, warm_up)]
    _wait_running(client, warm_up)
    view.note(f"'{WARM_UP.name}' is running on the only {VIDEO} worker; the batch queues up.")
    for index, spec in enumerate(BATCH, start=1):
        job = client.submit(
            spec.model, spec.payload, priority=spec.priority, info={"demo": spec.name}
        )
        tracked.append(Tracked(spec, index, job))
    view.submitted(tracked)
    for item in tracked:
        if item.spec.cancel:
            item.cancel = client.cancel(item.job.request_id, model=item.job.model)
            view.note(f"canceled '{item.spec.name}' while it was pending: {item.cancel.status}")
    return tracked


def _wait_running(client: QueueClient, job: Job, name: str = WARM_UP.name) -> None:
    deadline = time.monotonic() + _RUNNING_DEADLINE
    while client.status(job.request_id, model=job.model).status == "pending":
        if time.monotonic() > deadline:
            raise TimeoutError(f"the emulator did not start '{name}' in time")
        time.sleep(0.02)


def _clear_step(client: QueueClient, view: DemoView) -> ClearStep:
    """Clear a backlog while one job runs: the pending ones end canceled, the running one done."""
    running = client.submit(VIDEO, {"seconds": 1.0}, info={"demo": "long-run"})
    _wait_running(client, running, "long-run")
    backlog = [
        client.submit(VIDEO, {"seconds": 0.6}, info={"demo": f"backlog-{i}"})
        for i in range(1, CLEAR_BACKLOG + 1)
    ]
    result = client.clear(VIDEO)
    view.note(
        f"cleared {VIDEO} while 'long-run' ran: {result.canceled_count} pending job(s) "
        "canceled; 'long-run' goes on"
    )
    statuses = [job.status() for job in backlog]
    final = client.wait(running, timeout=_WAIT_DEADLINE, raise_on_failure=False)
    return ClearStep(result, statuses, final)


def _watch(client: QueueClient, tracked: list[Tracked], view: DemoView) -> None:
    by_job = {item.job: item for item in tracked}

    def on_update(job: Job, status: JobStatus) -> None:
        item = by_job[job]
        if status.status == "running" and status.progress is not None:
            item.progress_seen.add(status.progress)
        item.status = status
        view.live(tracked)

    view.live(tracked)
    jobs = [item.job for item in tracked]
    for outcome in client.as_completed(jobs, timeout=_WAIT_DEADLINE, on_update=on_update):
        tracked[outcome.index].status = outcome.unwrap()
        view.live(tracked)
    view.live_done(tracked)


def processing_order(tracked: Sequence[Tracked]) -> list[Tracked]:
    """The `demo/video` jobs that ran, in the order the worker claimed them."""
    ran = [
        (t.status.claimed_at, t)
        for t in tracked
        if t.spec.model == VIDEO and t.status is not None and t.status.claimed_at is not None
    ]
    return [t for _, t in sorted(ran, key=lambda pair: pair[0])]


def expected_order(tracked: Sequence[Tracked]) -> list[Tracked]:
    """The order the queue promises: the warm-up, then priority (high first), then FIFO."""
    batch = [t for t in tracked[1:] if t.spec.model == VIDEO and not t.spec.cancel]
    return [tracked[0], *sorted(batch, key=lambda t: (-t.spec.priority, t.index))]


def verify(
    tracked: Sequence[Tracked],
    order: Sequence[Tracked],
    busy: QueueMetrics,
    metrics: Sequence[QueueMetrics],
    cleared: ClearStep | None = None,
) -> list[Check]:
    """Check what the demo showed against the queue's promises."""
    names = [t.spec.name for t in order]
    expected = [t.spec.name for t in expected_order(tracked)]
    checks = [
        Check(
            f"{VIDEO} ran by priority, FIFO within a priority",
            names == expected,
            f"ran {names}, expected {expected}",
        )
    ]
    for item in tracked:
        checks.append(_check_job(item))
    queued = len(expected_order(tracked)) - 1
    want = (queued, WORKERS, queued + WORKERS)
    checks.append(
        Check(
            f"metrics of {VIDEO} while the warm-up ran: {want[0]} waiting, {want[1]} running",
            _counts(busy) == want,
            f"got {_counts(busy)}",
        )
    )
    if cleared is not None:
        checks.append(_check_clear(cleared))
    for m in metrics:
        checks.append(
            Check(f"metrics of {m.model} at the end: nothing active", _counts(m) == (0, 0, 0))
        )
    return checks


def _check_clear(step: ClearStep) -> Check:
    states = [s.status for s in step.backlog]
    never_ran = all(s.claimed_at is None for s in step.backlog)
    ok = step.result.canceled_count == CLEAR_BACKLOG and states == ["canceled"] * CLEAR_BACKLOG
    ok = ok and never_ran and step.running.status == "done"
    return Check(
        f"clear canceled the {CLEAR_BACKLOG} pending {VIDEO} jobs and let the running one finish",
        ok,
        f"canceled_count {step.result.canceled_count}, backlog {states}, "
        f"running job ended {step.running.status}",
    )


def _counts(metrics: QueueMetrics) -> tuple[int, int, int]:
    return (metrics.messages_waiting, metrics.messages_running, metrics.total_jobs)


def _check_job(item: Tracked) -> Check:
    spec, status = item.spec, item.status
    state = "no status" if status is None else status.status
    if spec.cancel:
        ok = bool(item.cancel and item.cancel.canceled) and state == "canceled"
        ok = ok and status is not None and status.claimed_at is None
        return Check(f"'{spec.name}' canceled while pending, never run", ok, f"status {state}")
    if spec.model == FAIL:
        reason = "" if status is None else failure_reason(status)
        ok = state == "failed" and FAIL_MESSAGE in reason
        return Check(f"'{spec.name}' failed with its error", ok, f"status {state}: {reason!r}")
    if spec.model == ECHO:
        ok = state == "done" and status is not None and status.outputs == spec.payload
        return Check(f"'{spec.name}' returned its payload", ok, f"status {state}")
    ok = state == "done" and status is not None and status.progress == 1.0
    ok = ok and status is not None and status.outputs == {"slept": spec.payload["seconds"]}
    return Check(f"'{spec.name}' done, progress 100%", ok, f"status {state}")
