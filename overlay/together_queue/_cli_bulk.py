"""`together-queue submit --file jobs.jsonl`: bulk submit (and wait), resumable after Ctrl-C.

At most `--concurrency` submits are in flight, on a thread pool, and each line's
record is written to the results log as soon as it is known (see `_cli_results`).
Waiting uses the library's `as_completed`, with the same concurrency bound.

Each job's info carries `{"together_queue": {"line": N, "file": NAME}}` (merged into
the user's info), so that a line whose submit is uncertain can be found on the
service by its line number. Nothing is ever resent automatically.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import shlex
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from together_queue._cli_common import (
    EXIT_API,
    EXIT_JOB,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    make_client,
    read_json_object,
    redact_all,
    secrets_of,
)
from together_queue._cli_jsonl import Defaults, InputLine, Request, read_input
from together_queue._cli_output import (
    LiveLine,
    Style,
    color_enabled,
    compact_json,
    emit_json,
    failure_reason,
    format_ranges,
    progress_bar,
    render_table,
)
from together_queue._cli_results import FINISHED, LineState, ResultLog, compact, load_states

if TYPE_CHECKING:
    from together_queue._models import JobStatus
    from together_queue.client import QueueClient
    from together_queue.jobs import Job

# The exit code a line's final status contributes; the run exits with the worst (highest).
_STATUS_EXIT = {"invalid": EXIT_USAGE, "error": EXIT_API, "unknown": EXIT_API}
_JOB_EXIT = {"failed": EXIT_JOB, "canceled": EXIT_JOB}


def run_bulk(args: argparse.Namespace) -> int:
    """Submit every line of `--file`; with `--wait`, wait for them; return the exit code."""
    output = None if args.output is None else Path(args.output)
    if args.resume and output is None:
        raise UsageError("--resume needs --output: the results file of the run to resume")
    if output is not None and not args.resume and output.exists() and output.stat().st_size:
        raise UsageError(
            f"--output {str(output)!r} already exists: pass --resume to continue that run "
            "(already submitted lines are skipped), or choose another file"
        )
    info = None if args.info is None else read_json_object(args.info, "--info")
    source = "<stdin>" if args.file == "-" else Path(args.file).name
    lines = [
        _stamped(item, source)
        for item in read_input(args.file, Defaults(args.model, args.priority, info))
    ]
    states: dict[int, LineState] = {}
    if output is not None and args.resume:
        states = load_states(output)
        if output.exists():
            compact(output)  # also drops a record a kill cut short, before appending
    run = _BulkRun(args, output, lines, states)
    try:
        with make_client(args) as client:
            return run.execute(client)
    finally:
        run.finish()


STAMP_KEY = "together_queue"
"""The info key under which each bulk job records its input line and file."""


def _stamped(item: InputLine, source: str) -> InputLine:
    """`item` with its line number and file name merged into its request's info."""
    if item.request is None:
        return item
    info = dict(item.request.info or {})
    mine = info.get(STAMP_KEY)
    # A user's own object under the key is kept and extended; anything else is replaced.
    info[STAMP_KEY] = {
        **(mine if isinstance(mine, dict) else {}),
        "line": item.line,
        "file": source,
    }
    return dataclasses.replace(item, request=dataclasses.replace(item.request, info=info))


class _BulkRun:
    """One bulk submit: what to send, what was recorded, and what to tell the user."""

    def __init__(
        self,
        args: argparse.Namespace,
        output: Path | None,
        lines: Sequence[InputLine],
        states: dict[int, LineState],
    ) -> None:
        self.args = args
        self.secrets = secrets_of(args)
        self.output = output
        self.log = ResultLog(output)
        self.live = LiveLine(sys.stderr)
        self.style = Style(color_enabled(sys.stderr))
        self.states = states
        self.todo = [item for item in lines if item.line not in states or _retry(states[item.line])]
        known = {item.line for item in lines}
        self.skipped = sorted(n for n, s in states.items() if n in known and s.submitted)
        self.uncertain = sorted(n for n, s in states.items() if n in known and s.uncertain)
        self.submitted: dict[int, Job] = {}  # this run's submits, by input line
        self.in_flight: set[int] = set()
        self.counts: Counter[str] = Counter()
        self.finals: list[dict[str, Any]] = []  # each line's final record for this command
        self.code = EXIT_OK
        self.phase = "submit"
        self.waiting = 0  # jobs to wait on, once the wait phase starts
        self.emitted: set[int] = set()  # lines whose record went to stdout (--json)
        # Outcomes an earlier run recorded count in this run's summary and exit code.
        self.earlier = {
            n: s.status for n, s in states.items() if n in known and s.status in FINISHED
        }
        for status in self.earlier.values():
            self.counts[f"earlier {status}"] += 1
            self.code = max(self.code, _JOB_EXIT.get(status, EXIT_OK))

    # -- running -------------------------------------------------------------------

    def execute(self, client: QueueClient) -> int:
        """Submit, then wait if asked; return the exit code (re-raise Ctrl-C after reporting)."""
        self._announce()
        try:
            self._submit_all(client)
            self._draw(force=True)
            self.live.close()  # the submit line stays on screen; waiting gets its own
            if self.args.wait:
                self.phase = "wait"
                self._wait_all(client)
        except KeyboardInterrupt:
            self.live.close()
            self._report_interrupt()
            raise
        self.live.close()
        self._report_done()
        return self.code

    def finish(self) -> None:
        """Close the log and compact it (one record per line), even after an interrupt."""
        self.live.close()
        self.log.close()
        if self.output is not None and self.output.exists():
            compact(self.output)

    def _announce(self) -> None:
        if self.skipped or self.uncertain:
            self.live.message(
                f"resuming: {len(self.skipped)} line(s) already submitted are skipped"
                + (f" ({format_ranges(self.skipped)})" if self.skipped else "")
            )
        for status in ("failed", "canceled"):
            lines = [n for n, s in self.earlier.items() if s == status]
            if lines:
                self.live.message(f"line(s) {format_ranges(lines)}: {status} (in an earlier run)")
        if self.uncertain:
            self.live.message(
                f"warning: line(s) {format_ranges(self.uncertain)} may have been submitted "
                "(interrupted mid-request); they are NOT resent: check them on the service"
            )
            self.code = max(self.code, EXIT_API)

    def _submit_all(self, client: QueueClient) -> None:
        limit = self.args.concurrency
        pool = concurrent.futures.ThreadPoolExecutor(limit, "together-queue-submit")
        futures: dict[concurrent.futures.Future[str], tuple[int, Request]] = {}
        source = iter(self.todo)
        exhausted = False
        try:
            while True:
                while not exhausted and len(futures) < limit:
                    item = next(source, None)
                    if item is None:
                        exhausted = True
                    elif item.request is None:
                        self._final({"line": item.line, "status": "invalid", "error": item.error})
                    else:
                        futures[self._send(pool, client, item.line, item.request)] = (
                            item.line,
                            item.request,
                        )
                if not futures:
                    return
                done, _ = concurrent.futures.wait(
                    futures, timeout=0.25, return_when=concurrent.futures.FIRST_COMPLETED
                )
                for future in done:
                    self._settle_submit(future, *futures.pop(future))
                self._draw()
        except KeyboardInterrupt:
            self._drain(futures)
            raise
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _send(
        self,
        pool: concurrent.futures.ThreadPoolExecutor,
        client: QueueClient,
        line: int,
        request: Request,
    ) -> concurrent.futures.Future[str]:
        # The intent is on disk before the request leaves: a kill cannot hide a submit.
        self.log.write({"line": line, "model": request.model, "status": "submitting"})
        self.in_flight.add(line)
        return pool.submit(_submit_one, client, request)

    def _settle_submit(
        self, future: concurrent.futures.Future[str], line: int, request: Request
    ) -> None:
        from together_queue.errors import SubmitOutcomeUnknown, TogetherQueueError
        from together_queue.jobs import Job

        self.in_flight.discard(line)
        base: dict[str, Any] = {"line": line, "model": request.model}
        error = future.exception()
        if error is None:
            request_id = future.result()
            self.submitted[line] = Job(request_id, model=request.model)
            record = {**base, "request_id": request_id, "status": "submitted"}
            self.counts["submitted"] += 1
            if self.args.wait:  # not final yet: its final record comes from the wait
                self.log.write(record)
                self.counts["processed"] += 1
            else:
                self._final(record)
        elif isinstance(error, SubmitOutcomeUnknown) or _garbled_success(error):
            # The service may have created the job: never resend it automatically.
            self._final({**base, "status": "unknown", "error": str(error)})
        elif isinstance(error, TogetherQueueError | TypeError | ValueError):
            # Refused before a job existed (or rejected locally): safe to retry with --resume.
            self._final({**base, "status": "error", "error": str(error)})
        else:  # not expected; recorded as unknown so that --resume never resends it
            self._final({**base, "status": "unknown", "error": f"{type(error).__name__}: {error}"})

    def _drain(self, futures: dict[concurrent.futures.Future[str], tuple[int, Request]]) -> None:
        """After Ctrl-C: record the answers of the submits already sent (Ctrl-C again: stop)."""
        if not futures:
            return
        self.live.close()
        print(
            f"interrupted: recording the answers of {len(futures)} submit(s) in flight "
            "(Ctrl-C again to stop at once)",
            file=sys.stderr,
            flush=True,
        )
        try:
            for future in concurrent.futures.as_completed(futures):
                self._settle_submit(future, *futures[future])
        except KeyboardInterrupt:
            pass  # their `submitting` records stay: --resume will not resend those lines

    def _wait_all(self, client: QueueClient) -> None:
        from together_queue.jobs import Job

        entries: list[tuple[int, Job]] = sorted(self.submitted.items())
        for line, state in sorted(self.states.items()):
            # Jobs a previous run submitted but did not see finish are waited on as well.
            if state.request_id and state.model and state.status not in FINISHED:
                entries.append((line, Job(state.request_id, model=state.model)))
        self.waiting = len(entries)
        running: set[int] = set()
        by_job = {job: line for line, job in entries}

        def on_update(job: Job, status: JobStatus) -> None:
            line = by_job[job]
            if status.status == "running":
                running.add(line)
            else:
                running.discard(line)
            self.counts["running"] = len(running)
            self._draw()

        jobs = [client.job(job.request_id, model=job.model) for _, job in entries]
        completed = client.as_completed(
            jobs, timeout=self.args.timeout, concurrency=self.args.concurrency, on_update=on_update
        )
        for outcome in completed:
            line, job = entries[outcome.index]
            running.discard(line)
            self.counts["running"] = len(running)
            base = {"line": line, "model": job.model, "request_id": job.request_id}
            if outcome.error is not None:
                self._final({**base, "status": "error", "error": str(outcome.error)})
            else:
                self._final(_status_record(base, outcome.unwrap()))
            self._draw()

    # -- recording and reporting -----------------------------------------------------

    def _final(self, record: dict[str, Any]) -> None:
        """Record a line's outcome for this command: log, stdout (--json), exit code."""
        if "error" in record:  # one place: the log, stdout and stderr all get this text
            record = {**record, "error": redact_all(str(record["error"]), self.secrets)}
        self.log.write(record)
        self.finals.append(record)
        status = record["status"]
        self.counts["finished" if self.phase == "wait" else "processed"] += 1
        if status != "submitted":
            self.counts[status] += 1
        self.code = max(self.code, _STATUS_EXIT.get(status, _JOB_EXIT.get(status, EXIT_OK)))
        if self.args.json:
            emit_json(record)
            self.emitted.add(record["line"])
        if status in _STATUS_EXIT:
            what = "" if status == "invalid" else f"{status}: "
            self.live.message(f"line {record['line']}: {what}{record.get('error', '')}")
        self._draw()

    def _draw(self, *, force: bool = False) -> None:
        c = self.counts
        if self.phase == "submit":
            total = len(self.todo)
            done = c["processed"]
            text = f"{progress_bar(done, total)} {done}/{total} lines  submitted {c['submitted']}"
        else:
            total = self.waiting
            done = c["finished"]
            text = f"{progress_bar(done, total)} {done}/{total} finished  running {c['running']}"
            text += f"  done {c['done']}"
        for status in ("failed", "canceled", "invalid", "error", "unknown"):
            if c[status]:
                text += f"  {status} {c[status]}"
        self.live.update(text, force=force)

    def _report_done(self) -> None:
        if not self.args.json and self.output is None and self.finals:
            rows = [_row(r, Style(color_enabled(sys.stdout))) for r in self.finals]
            rows.sort(key=lambda row: int(row[0]))
            print(render_table(["line", "request_id", "status", "outputs / error"], rows))
        c = self.counts
        parts = [f"{c['submitted']} submitted"]
        if self.args.wait:
            parts.append(f"{c['done']} done")
        parts += [
            f"{c[s]} {s}" for s in ("failed", "canceled", "invalid", "error", "unknown") if c[s]
        ]
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped (submitted before)")
        parts += [
            f"{c[key]} {key}"
            for key in ("earlier done", "earlier failed", "earlier canceled")
            if c[key]
        ]
        where = f"; results in {self.output}" if self.output else ""
        print(f"{', '.join(parts)}{where}", file=sys.stderr if self.args.json else sys.stdout)

    def _report_interrupt(self) -> None:
        err = sys.stderr
        if self.phase == "wait":
            print(
                "interrupted while waiting: every line was submitted "
                f"({self.counts['finished']} of {self.waiting} finished).",
                file=err,
            )
            if self.output is not None:
                print(f"keep waiting with: {self._resume_command()}", file=err)
            else:
                self._print_request_ids()
            return
        done = sorted({*self.submitted, *self.skipped})
        unsure = sorted({*self.uncertain, *self.in_flight})
        submitted = format_ranges(done) if done else "none"
        print(f"interrupted: submitted lines: {submitted} ({len(done)} line(s)).", file=err)
        if unsure:
            print(
                f"lines {format_ranges(unsure)} may have been submitted (no answer recorded); "
                "--resume will not resend them",
                file=err,
            )
        if self.output is not None:
            print(f"resume with: {self._resume_command()}", file=err)
        else:
            self._print_request_ids()

    def _print_request_ids(self) -> None:
        """Without a results file, the request ids are only on screen: show every one."""
        for line, job in sorted(self.submitted.items()):
            if not self.args.json:
                print(f"line {line}: {job.request_id}", flush=True)
            elif line not in self.emitted:  # --json: each line's record once on stdout
                record = {"line": line, "model": job.model, "request_id": job.request_id}
                emit_json({**record, "status": "submitted"})
        print(
            "no --output file: the request ids above are the only record; "
            "pass --output next time to make a run resumable",
            file=sys.stderr,
        )

    def _resume_command(self) -> str:
        a = self.args
        words = ["together-queue", "submit", "--file", a.file]
        if a.model is not None:
            words += ["--model", a.model]
        if a.priority:
            words += ["--priority", str(a.priority)]
        if a.info is not None:
            words += ["--info", a.info]
        if a.base_url is not None:
            words += ["--base-url", a.base_url]  # never the API key: it stays in the env
        words += ["--concurrency", str(a.concurrency)]
        if a.wait:
            words.append("--wait")
        words += ["--output", str(self.output), "--resume"]
        return shlex.join(words)


def _garbled_success(error: BaseException) -> bool:
    """A 2xx answer the client could not read: the job may exist, its id is unknown."""
    from together_queue.errors import APIStatusError, ResponseValidationError

    if not isinstance(error, ResponseValidationError | APIStatusError):
        return False
    # An unreadable error answer (4xx/5xx) still means the service refused the submit.
    return error.status_code < 400


def _retry(state: LineState) -> bool:
    """Whether a line the log already mentions is submitted again on `--resume`."""
    return not state.submitted and not state.uncertain


def _submit_one(client: QueueClient, request: Request) -> str:
    job = client.submit(
        request.model, request.payload, priority=request.priority, info=request.info
    )
    return job.request_id


def _status_record(base: dict[str, Any], status: JobStatus) -> dict[str, Any]:
    record = {**base, "status": status.status}
    if status.outputs is not None:
        record["outputs"] = status.outputs
    reason = failure_reason(status)
    if reason and not status.succeeded:
        record["error"] = reason
    return record


def _row(record: dict[str, Any], style: Style) -> list[str]:
    detail = record.get("error")
    if detail is None:
        detail = compact_json(record["outputs"]) if "outputs" in record else ""
    return [
        str(record["line"]),
        str(record.get("request_id") or "-"),
        style.status(str(record["status"])),
        str(detail),
    ]
