"""Runtime: the store plus what lives in the event loop (long polls, sweeper, workers).

It holds the long-poll waiters, the task that sweeps lapsed claims and the in-process
workers. In-process workers call what an external worker's HTTP calls reach,
`Runtime.claim` (the long poll behind `/internal/v1/rabbitmq/retrieve`) and
`Runtime.update` (behind `/internal/v1/videos/status`), but not over HTTP: they
skip auth and `FaultMiddleware`, so injected faults never strike them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any

from together_queue.emulator.config import EmulatorConfig
from together_queue.emulator.faults import FaultInjector
from together_queue.emulator.handlers import Handler, load_handler, report_info
from together_queue.emulator.ratelimit import RateLimiter
from together_queue.emulator.storage import FileStore, Signer, files_dir_for
from together_queue.emulator.store import (
    InfoTooLarge,
    JobConflict,
    JobNotFound,
    JobStore,
    StoredJob,
    UpdateStatus,
    WorkerInfo,
)

__all__ = ["MAX_POLL_SECONDS", "Runtime"]

logger = logging.getLogger("together_queue.emulator")

MAX_POLL_SECONDS = 60.0
"""The longest a worker's long poll may wait, whatever timeout it asks for."""

_WORKER_POLL_SECONDS = 5.0


class Runtime:
    """One emulator's state: config, store, faults, waiters and background tasks."""

    def __init__(self, config: EmulatorConfig) -> None:
        """Load handlers (ValueError on a bad `module:func`) and open the store."""
        self.config = config
        self.handlers: dict[str, Handler] = {
            model: load_handler(spec) for model, spec in config.models.items()
        }
        self.faults = FaultInjector(config.faults)
        self.rate_limits = RateLimiter(config.rate_limits)
        self.store = JobStore(config.db, max_retries=config.max_retries)
        self.files = FileStore(None if config.db is None else files_dir_for(config.db))
        self.signer = Signer()
        self.store.add_requeue_listener(self.notify)
        self.closing = False
        self._stopping = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: dict[str, set[asyncio.Future[None]]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        # Models some worker has polled for, and models already warned about (warn once).
        self._polled: set[str] = set()
        self._warned: set[str] = set()
        self.last_polls: dict[str, float] = {}
        """When a worker last polled each model over HTTP (epoch seconds; the dashboard)."""

    # -- lifecycle -------------------------------------------------------------------

    async def ensure_started(self) -> None:
        """Start the sweeper and the in-process workers in the running loop (once)."""
        if self._loop is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._tasks.append(asyncio.create_task(self._sweeper(), name="emulator-sweeper"))
        for model, handler in self.handlers.items():
            for index in range(self.config.workers):
                task = asyncio.create_task(
                    self._worker(model, handler, index), name=f"emulator-worker-{model}-{index}"
                )
                self._tasks.append(task)

    def begin_shutdown(self) -> None:
        """Answer every pending long poll now (with no job) and accept no new waits.

        Must run in the event loop.
        """
        self.closing = True
        self._stopping.set()
        for model in list(self._waiters):
            self._wake(model)

    async def pause(self, seconds: float) -> None:
        """Wait `seconds`, or until the emulator begins to stop (latency faults use it)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def stop(self) -> None:
        """Stop the background tasks and close the store."""
        self.begin_shutdown()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.store.close()

    # -- long poll -------------------------------------------------------------------

    def waiters(self) -> dict[str, int]:
        """How many long polls wait on each model (admin API; tests wait on it)."""
        return {model: len(futures) for model, futures in self._waiters.items() if futures}

    def _wake(self, model: str) -> None:
        for future in self._waiters.get(model, ()):
            if not future.done():
                future.set_result(None)

    def notify(self, model: str) -> None:
        """Wake the long polls of `model` (callable from any thread)."""
        loop = self._loop
        if loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wake(model)
        else:
            # A closed loop raises RuntimeError: nobody waits any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._wake, model)

    async def claim(
        self,
        model: str,
        hostname: str,
        timeout: float,
        *,
        claim_timeout: float | None = None,
        worker: WorkerInfo | None = None,
    ) -> StoredJob | None:
        """Claim the next job of `model`, waiting up to `timeout` seconds for one.

        The claim lasts `claim_timeout` seconds without an update (default: the
        emulator's `--claim-timeout`).
        """
        await self.ensure_started()
        lease = self.config.claim_timeout if claim_timeout is None else claim_timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(max(timeout, 0.0), MAX_POLL_SECONDS)
        while not self.closing:  # shutting down: hand out no more jobs
            # Register before looking, so a submit between the look and the wait wakes us.
            future: asyncio.Future[None] = loop.create_future()
            waiting = self._waiters.setdefault(model, set())
            waiting.add(future)
            try:
                job = self.store.claim(model, hostname, lease, worker=worker)
                if job is not None:
                    return job
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return None
                await asyncio.wait((future,), timeout=remaining)
            finally:
                waiting.discard(future)
                if not waiting and self._waiters.get(model) is waiting:
                    del self._waiters[model]
        return None

    # -- job operations --------------------------------------------------------------

    def submit(
        self,
        model: str,
        payload: Mapping[str, Any],
        *,
        priority: int,
        info: Mapping[str, Any] | None,
        warnings: tuple[str, ...] = (),
    ) -> StoredJob:
        """Store a job and wake the workers polling its model."""
        job = self.store.submit(model, payload, priority=priority, info=info, warnings=warnings)
        self.notify(model)
        self._watch_unpolled(model)
        return job

    # -- a model nobody serves -------------------------------------------------------

    def note_poll(self, model: str) -> None:
        """Record that a worker polled for `model` (it is served, no warning needed)."""
        self._polled.add(model)
        self.last_polls[model] = time.time()

    def _watch_unpolled(self, model: str) -> None:
        """Warn later if a job of `model` still waits and no worker ever polled for it."""
        if model in self.handlers or model in self._polled or model in self._warned:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # not in the event loop: nothing to schedule on
        self._warned.add(model)
        loop.call_later(self.config.unpolled_warning_seconds, self._warn_unpolled, model)

    def _warn_unpolled(self, model: str) -> None:
        if model in self._polled or self.closing:
            return
        waiting, _ = self.store.metrics(model)
        if not waiting:
            self._warned.discard(model)  # nothing waits after all: watch the next submit
            return
        logger.warning(
            "%d job(s) of model %r wait, but it has no in-process handler and no worker "
            "has polled for it: start a worker for %r, or serve it in process with "
            "--model %s=HANDLER",
            waiting,
            model,
            model,
            model,
        )

    def update(
        self,
        request_id: str,
        model: str,
        status: UpdateStatus,
        *,
        outputs: Mapping[str, Any] | None = None,
        info: Mapping[str, Any] | None = None,
        claim_id: str | None = None,
        sender: WorkerInfo | None = None,
    ) -> StoredJob:
        """A worker's status update (see `JobStore.update`) with this emulator's timeout."""
        return self.store.update(
            request_id,
            model,
            status,
            outputs=outputs,
            info=info,
            claim_id=claim_id,
            claim_timeout=self.config.claim_timeout,
            sender=sender,
        )

    # -- background tasks ------------------------------------------------------------

    async def _sweeper(self) -> None:
        """Requeue lapsed claims promptly even when no request arrives to trigger it."""
        # At most 0.5 s: a claim may ask for a shorter lease than --claim-timeout.
        interval = min(max(self.config.claim_timeout / 4, 0.01), 0.5)
        while True:
            await asyncio.sleep(interval)
            try:
                self.store.sweep()
            except Exception:
                logger.exception("claim sweep failed")

    async def _worker(self, model: str, handler: Handler, index: int) -> None:
        hostname = f"emulator-{model}-{index}"
        while not self.closing:
            try:
                job = await self.claim(model, hostname, _WORKER_POLL_SECONDS)
                if job is not None:
                    await self._run(job, handler)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("in-process worker %s failed", hostname)
                await asyncio.sleep(0.1)  # do not spin if the store is broken

    async def _run(self, job: StoredJob, handler: Handler) -> None:
        """Run one claimed job and report its outcome, keeping the claim alive meanwhile."""

        def report(info: Mapping[str, Any] | float) -> None:
            info = report_info(info)
            # A lost claim is not the handler's problem: its final update is refused too.
            with contextlib.suppress(JobConflict, JobNotFound):
                self.update(job.request_id, job.model, "running", info=info, claim_id=job.claim_id)

        heartbeat = asyncio.create_task(self._heartbeat(job))
        outcome: UpdateStatus
        outputs: dict[str, Any] | None = None
        info: dict[str, Any] | None = None
        try:
            result = await handler(dict(job.payload), report)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            outcome, info = "failed", {"error": str(exc) or type(exc).__name__}
        else:
            if isinstance(result, dict):
                outcome, outputs = "done", result
            else:
                outcome = "failed"
                info = {
                    "error": f"handler returned {type(result).__name__}, expected a dict of outputs"
                }
        finally:
            heartbeat.cancel()
        try:
            self.update(
                job.request_id,
                job.model,
                outcome,
                outputs=outputs,
                info=info,
                claim_id=job.claim_id,
            )
        except (JobConflict, JobNotFound) as exc:
            logger.info("dropping the outcome of %s: %s", job.request_id, exc)
        except (TypeError, ValueError) as exc:
            what = (
                "handler info" if isinstance(exc, InfoTooLarge) else "handler outputs are not JSON"
            )
            with contextlib.suppress(JobConflict, JobNotFound, InfoTooLarge):
                self.update(
                    job.request_id,
                    job.model,
                    "failed",
                    info={"error": f"{what}: {exc}"},
                    claim_id=job.claim_id,
                )

    async def _heartbeat(self, job: StoredJob) -> None:
        """Renew the claim while the handler runs, as a real worker must."""
        while True:
            await asyncio.sleep(self.config.claim_timeout / 3)
            try:
                self.update(job.request_id, job.model, "running", claim_id=job.claim_id)
            except (JobConflict, JobNotFound):
                return
