"""`together-queue submit --file jobs.jsonl`: bulk submit (and wait), resumable after Ctrl-C.

Built on the library's streaming helpers: `AsyncQueueClient.submit_iter` (at most
`--concurrency` submits in flight, fewer while the service answers 429) and
`as_completed`. Lines from a regular file are sent by tasks on one event loop, not
`--concurrency` threads: threads that take turns on one interpreter lock spend much of
their time handing it over, and every line's bookkeeping (the intent record, the
answer's record) costs several times its own work among them. Standard input, a pipe or
a FIFO may wait for its next line for as long as its writer likes, which would stall a
loop and every answer in flight with it: those are sent by `QueueClient.submit_iter`'s
threads, which record each answer as it comes. Memory
is flat in the number of lines: the input is read as it is sent, every line's
record goes to the results log as soon as it is known, and the log is the record of
progress, read back through a per-line offset index.

The pieces: `cli.records` (the typed records), `cli.results` (the file: index, log,
compaction), `cli.bulk_log` (where the records go: `--output`, or a temporary file
mirrored to a stream), `cli.resume` (what an earlier run's file says), `cli.bulk_view`
(counts, exit code and the terminal), and `cli.argv` (the resume command, derived from
the parser). This module sends the lines and waits on the jobs.

Each job's info carries `{"together_queue": {"line": N, "file": NAME}}` (merged into
the user's info), so that a line whose submit is uncertain can be found on the
service by its line number. Nothing whose fate is unknown is ever resent.

The first fatal error (a wrong key, no server, a wrong base URL) stops the run at
once: no further line is sent, the reason is said once, and the run stays resumable.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import stat
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from together_queue.cli.argv import command_line
from together_queue.cli.bulk_log import BulkLog, OutputKind, output_kind
from together_queue.cli.bulk_view import STAMP_KEY, BulkView
from together_queue.cli.common import (
    EXIT_API,
    UsageError,
    make_async_client,
    make_client,
    read_json_object,
    redact_all,
    secrets_of,
)
from together_queue.cli.jsonl import Defaults, check_readable, read_input
from together_queue.cli.output import failure_reason
from together_queue.cli.records import Record
from together_queue.cli.resume import ResumeState, load_resume

if TYPE_CHECKING:
    from together_queue._models import JobStatus, Outcome
    from together_queue.client import AsyncQueueClient, QueueClient
    from together_queue.jobs import AsyncJob, Job, JobRequest

    #: A submit's outcome, from the loop's tasks or the threads.
    Answer: TypeAlias = Outcome[AsyncJob, Any] | Outcome[Job, Any]

__all__ = ["STAMP_KEY", "run_bulk"]


def run_bulk(args: argparse.Namespace) -> int:
    """Submit every line of `--file`; with `--wait`, wait for them; return the exit code."""
    output = None if args.output is None else Path(args.output)
    if args.resume and output is None:
        raise UsageError("--resume needs --output: the results file of the run to resume")
    if args.resume and args.file == "-":
        raise UsageError(
            "--resume needs --file to name a file: standard input cannot be read twice, "
            "and the input must be checked against the results file before anything is sent"
        )
    check_readable(args.file)
    kind = output_kind(output)
    if args.resume and kind is not OutputKind.FILE:
        raise UsageError(f"--resume needs --output to be a regular file, not {str(output)!r}")
    if (
        output is not None
        and kind is OutputKind.FILE
        and not args.resume
        and output.exists()
        and output.stat().st_size
    ):
        raise UsageError(
            f"--output {str(output)!r} already exists: pass --resume to continue that run "
            "(already submitted lines are skipped), or choose another file"
        )
    info = None if args.info is None else read_json_object(args.info, "--info")
    defaults = Defaults(args.model, args.priority, info)
    source = "<stdin>" if args.file == "-" else Path(args.file).name
    resume = ResumeState()
    if args.resume and output is not None:
        resume = load_resume(output, args.file, source, defaults)
    try:
        log = BulkLog(output, kind, source)
    except BaseException:
        resume.close()
        raise
    lines = _count_lines(args.file)
    view = BulkView(
        json_mode=args.json,
        records_on_stdout=log.on_stdout,
        wait=args.wait,
        output=output,
        total=None if lines is None else max(0, lines - resume.kept),
    )
    run = _BulkRun(args, source, defaults, log, resume, view)
    try:
        # Built here: a configuration the library refuses is a usage error before any output.
        sender = make_async_client(args) if _never_blocks(args.file) else make_client(args)
        with _fewer_collections():
            return run.execute(sender)
    finally:
        run.finish()


#: The cyclic collector's first threshold during a bulk run (Python's default: 700).
_BULK_GC_THRESHOLD = 10_000


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Run the cyclic garbage collector less often while lines are sent.

    Every line allocates a few dozen short-lived objects that reference counting frees;
    at the default threshold the collector runs every few lines, and its full passes
    walk every object the imports made. Those are frozen out of its passes (unless the
    process froze objects of its own) and its first threshold raised: about 3% more
    lines a second. Cycles are still collected, later; both are undone at the end.
    """
    thresholds = gc.get_threshold()
    freeze = gc.get_freeze_count() == 0
    if freeze:
        gc.freeze()
    gc.set_threshold(max(thresholds[0], _BULK_GC_THRESHOLD), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        if freeze:
            gc.unfreeze()


def _never_blocks(file: str) -> bool:
    """Whether reading `file` never waits on a writer (a regular file; not stdin or a pipe)."""
    try:
        return file != "-" and stat.S_ISREG(os.stat(file).st_mode)
    except OSError:
        return False  # read_input reports it


def _stamped(info: dict[str, Any] | None, line: int, source: str) -> dict[str, Any]:
    """`info` (copied) with the line number and file name merged in under `STAMP_KEY`."""
    if not info:  # most lines: nothing to merge with
        return {STAMP_KEY: {"line": line, "file": source}}
    stamped = dict(info)
    mine = stamped.get(STAMP_KEY)
    # A user's own object under the key is kept and extended; anything else is replaced.
    stamped[STAMP_KEY] = {**(mine if isinstance(mine, dict) else {}), "line": line, "file": source}
    return stamped


def _count_lines(file: str) -> int | None:
    """The number of non-blank lines of `file` (None for stdin), for the progress bar."""
    if file == "-":
        return None
    try:
        with Path(file).open("rb") as handle:
            return sum(1 for raw in handle if raw.strip())
    except OSError:
        return None  # read_input reports it


class _BulkRun:
    """One bulk submit: sends the lines, waits on the jobs, and records each line's fate.

    The records go to the `BulkLog`, the counts and the screen to the `BulkView`;
    the `ResumeState` says which lines an earlier run already took care of.
    """

    def __init__(
        self,
        args: argparse.Namespace,
        source: str,
        defaults: Defaults,
        log: BulkLog,
        resume: ResumeState,
        view: BulkView,
    ) -> None:
        self.args = args
        self.secrets = secrets_of(args)
        self.source = source
        self.defaults = defaults
        self.log = log
        self.resume = resume
        self.view = view
        self.in_flight: dict[int, Record] = {}  # submit index -> the line's intent record
        self.sent = 0
        self.fatal: BaseException | None = None
        # An answer's record may wait for the next line's intent record to carry it out,
        # unless the input can pause between lines (then the answers would wait with it):
        # set by `execute`, from the engine the input was given.
        self.flush_answers = False

    # -- running -------------------------------------------------------------------

    def execute(self, sender: AsyncQueueClient | QueueClient) -> int:
        """Submit, then wait if asked; return the exit code (re-raise Ctrl-C after reporting).

        `sender` sends the lines (on a loop if async, else on threads) and is closed
        after; the waiting has its own client.
        """
        from together_queue.client import AsyncQueueClient

        self.view.announce(self.resume)
        try:
            if isinstance(sender, AsyncQueueClient):  # an input that never pauses
                asyncio.run(self._submit_on_loop(sender))
            else:
                self.flush_answers = True
                with sender:
                    self._submit_on_threads(sender)
            # The last answers' records: no intent record follows them to carry them out.
            self.log.flush()
            self.view.end_submitting()
            if self.fatal is not None:
                self.view.report_fatal(
                    redact_all(str(self.fatal), self.secrets), self._resume_command()
                )
                self._request_ids()
                return max(self.view.tally.code, EXIT_API)
            if self.args.wait:
                with make_client(self.args) as client:
                    self._wait_all(client)
        except KeyboardInterrupt:
            self.view.close()
            unsure = sorted(record.line for record in self.in_flight.values())
            self.view.report_interrupt(unsure, self._resume_command())
            self._request_ids()
            raise
        self.view.close()
        self.view.report_done(self.log.records(), self._resume_command)
        return self.view.tally.code

    def finish(self) -> None:
        """Close the log and compact it (one record per line), even after an interrupt."""
        self.view.close()
        self.log.finish()
        self.resume.close()

    def _requests(self) -> Iterator[JobRequest]:
        """The lines to send, read as they are sent; each one's intent is logged first."""
        from together_queue.jobs import JobRequest

        for item in read_input(self.args.file, self.defaults):
            if self.fatal is not None:
                return
            if not self.resume.sends(item.line):
                continue
            request = item.request
            if request is None:
                self._final(Record(item.line, "invalid", digest=item.digest, error=item.error))
                continue
            intent = Record(item.line, "submitting", item.digest, request.model)
            # The intent is on disk before the request leaves: a kill cannot hide a submit.
            self.log.write(intent)
            self.in_flight[self.sent] = intent
            self.sent += 1
            info = _stamped(request.info, item.line, self.source)
            yield JobRequest(request.model, request.payload, priority=request.priority, info=info)

    async def _submit_on_loop(self, client: AsyncQueueClient) -> None:
        """Send every line from tasks on this loop, recording each answer.

        Ctrl-C cancels this task (`asyncio.run` does that): the answers in flight are
        recorded, then `asyncio.run` raises KeyboardInterrupt; a second Ctrl-C abandons them.
        """
        async with client:
            stream = client.submit_iter(self._requests(), concurrency=self.args.concurrency)
            try:
                async for outcome in stream:
                    self._settle_submit(outcome)  # draws the progress line
                    if self.fatal is not None:
                        break
            except asyncio.CancelledError:
                self._interrupted()
                self._drain_after_interrupt(await stream.aclose())
                raise
            for outcome in await stream.aclose():  # after a fatal error: those in flight
                self._settle_submit(outcome)

    def _submit_on_threads(self, client: QueueClient) -> None:
        """Send every line from `--concurrency` threads, recording each answer."""
        stream = client.submit_iter(self._requests(), concurrency=self.args.concurrency)
        try:
            for outcome in stream:
                self._settle_submit(outcome)  # draws the progress line
                if self.fatal is not None:
                    break
        except KeyboardInterrupt:
            self._interrupted()
            self._drain_after_interrupt(stream.close())
            raise
        for outcome in stream.close():  # after a fatal error: the answers still in flight
            self._settle_submit(outcome)

    def _interrupted(self) -> None:
        """Ctrl-C during the submits: say that the answers in flight are being recorded."""
        self.view.close()
        if self.in_flight:
            print(
                f"interrupted: recording the answers of {len(self.in_flight)} submit(s) in "
                "flight (Ctrl-C again to stop at once)",
                file=sys.stderr,
                flush=True,
            )

    def _drain_after_interrupt(self, rest: Sequence[Answer]) -> None:
        """Record the answers that came in after Ctrl-C (a second Ctrl-C abandons the rest)."""
        self.view.close()
        for outcome in rest:
            self._settle_submit(outcome)

    def _settle_submit(self, outcome: Answer) -> None:
        intent = self.in_flight.pop(outcome.index)
        if outcome.ok:
            # Positional: a named tuple built by keyword takes half as long again.
            record = Record(
                intent.line, "submitted", intent.digest, intent.model, outcome.value.request_id
            )
            # Carried out by the next line's intent record (one write call per line less; a
            # kill leaves the line `submitting`, never resent), unless the input may pause.
            self.log.write(record, flush=self.flush_answers)
            self.view.submitted(record, final=not self.args.wait)
            return
        self._settle_failed(intent, outcome.error)

    def _settle_failed(self, intent: Record, error: BaseException | None) -> None:
        from together_queue.errors import SubmitOutcomeUnknown, TogetherQueueError

        if isinstance(error, SubmitOutcomeUnknown):
            # The service may have created the job: never resend it automatically.
            text = _unknown_text(error, intent.line)
            self._final(intent._replace(status="unknown", error=text))
            return
        if self.fatal is None and _is_fatal(error):
            self.fatal = error
        if isinstance(error, TogetherQueueError | TypeError | ValueError):
            # Refused before a job existed (or rejected locally): safe to retry with --resume.
            self._final(intent._replace(status="error", error=str(error)))
        else:  # not expected; recorded as unknown so that --resume never resends it
            text = f"{type(error).__name__}: {error}"
            self._final(intent._replace(status="unknown", error=text))

    def _jobs_to_wait(self, client: QueueClient, waited: dict[int, Record]) -> Iterator[Job]:
        """Jobs with a request id and no final status, read from the log in line order.

        Jobs an earlier run submitted but did not see finish are waited on as well.
        `waited` maps each yielded job's position to its line's record until it is settled.
        """
        position = 0
        for record in self.log.records():
            if not record.request_id or not record.model or record.finished:
                continue
            waited[position] = record
            position += 1
            yield client.job(record.request_id, model=record.model)

    def _wait_all(self, client: QueueClient) -> None:
        from together_queue.errors import WaitTimeout

        self.view.start_waiting(sum(1 for _ in self._jobs_to_wait(client, {})))
        waited: dict[int, Record] = {}
        running: set[int] = set()

        def on_update(job: Job, status: JobStatus) -> None:
            if status.status == "running":
                running.add(hash(job))
            else:
                running.discard(hash(job))
            self.view.running(len(running))

        completed = client.as_completed(
            self._jobs_to_wait(client, waited),
            timeout=self.args.timeout,
            concurrency=self.args.concurrency,
            on_update=on_update,
        )
        for outcome in completed:
            job = outcome.item
            line = waited.pop(outcome.index)
            base = Record(
                line.line, "", digest=line.digest or "", model=job.model, request_id=job.request_id
            )
            running.discard(hash(job))
            self.view.running(len(running))
            if outcome.ok:
                self._final(_status_record(base, outcome.value))
            elif isinstance(outcome.error, WaitTimeout):
                self._final(base._replace(status="timeout", error=str(outcome.error)))
            else:
                self._final(base._replace(status="error", error=str(outcome.error)))

    # -- recording and reporting -----------------------------------------------------

    def _final(self, record: Record, *, flush: bool = True) -> None:
        """Record a line's outcome for this command: the log, then the view."""
        if record.error is not None:  # one place: the log, stdout and stderr all get this text
            record = record._replace(error=redact_all(record.error, self.secrets))
        self.log.write(record, flush=flush)
        self.view.final(record, quiet=self.fatal is not None)

    def _request_ids(self) -> None:
        """Without a results file, the request ids are only on screen: show those not shown."""
        if self.log.output is None:
            self.view.report_request_ids(self.log.records())

    def _resume_command(self) -> str | None:
        """The command that resumes this run from its results file (None without one)."""
        if self.log.output is None:
            return None
        return command_line(self.args, "submit", overrides={"resume": True})


def _is_fatal(error: BaseException | None) -> bool:
    """An error every other line would meet too: a wrong key, no server, a wrong base URL."""
    from together_queue.errors import (
        APIConnectionError,
        APIStatusError,
        APITimeoutError,
        AuthenticationError,
    )

    if isinstance(error, AuthenticationError):
        return True
    if isinstance(error, APIStatusError):
        return error.status_code in (403, 404)  # a submit has no job to miss: a wrong route
    return isinstance(error, APIConnectionError) and not isinstance(error, APITimeoutError)


def _unknown_text(error: BaseException, line: int) -> str:
    """The unknown-outcome message, in the CLI's terms (it has no retry_submits flag)."""
    return (
        f"{error}. Not resent, and --resume will not resend it: look for the job on the "
        f"service (its info has {STAMP_KEY}.line = {line}) and submit the line again only "
        "if it is not there"
    )


def _status_record(base: Record, status: JobStatus) -> Record:
    reason = failure_reason(status)
    return base._replace(
        status=status.status,
        outputs=status.outputs,
        error=reason if reason and not status.succeeded else None,
    )
