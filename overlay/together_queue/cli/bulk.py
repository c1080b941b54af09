"""`together-queue submit --file jobs.jsonl`: bulk submit (and wait), resumable after Ctrl-C.

Built on the library's streaming helpers: `submit_iter` (at most `--concurrency`
submits in flight, fewer while the service answers 429) and `as_completed`. Memory
is flat in the number of lines: the input is read as it is sent, every line's
record goes to the results log as soon as it is known (see `cli.results`), and the
log is the record of progress, read back through a per-line offset index (a
temporary file when there is no regular `--output`).

Each job's info carries `{"together_queue": {"line": N, "file": NAME}}` (merged into
the user's info), so that a line whose submit is uncertain can be found on the
service by its line number. Nothing whose fate is unknown is ever resent.

The first fatal error (a wrong key, no server, a wrong base URL) stops the run at
once: no further line is sent, the reason is said once, and the run stays resumable.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from together_queue.cli.common import (
    EXIT_API,
    EXIT_JOB,
    EXIT_OK,
    EXIT_TIMEOUT,
    EXIT_USAGE,
    UsageError,
    make_client,
    read_json_object,
    redact_all,
    secrets_of,
)
from together_queue.cli.jsonl import Defaults, InputLine, read_input
from together_queue.cli.output import (
    LineRanges,
    LiveLine,
    Style,
    color_enabled,
    compact_json,
    emit_json,
    failure_reason,
    progress_bar,
    render_table,
)
from together_queue.cli.results import (
    FINISHED,
    ResultLog,
    ResultsIndex,
    compact,
    drop_partial_tail,
    is_regular,
)

if TYPE_CHECKING:
    from together_queue._models import JobStatus, Outcome
    from together_queue.client import QueueClient
    from together_queue.jobs import Job, JobRequest

# The exit code a line's final status contributes; the run exits with the worst (highest).
_STATUS_EXIT = {
    "invalid": EXIT_USAGE,
    "error": EXIT_API,
    "unknown": EXIT_API,
    "timeout": EXIT_TIMEOUT,
}
_JOB_EXIT = {"failed": EXIT_JOB, "canceled": EXIT_JOB}
STAMP_KEY = "together_queue"
"""The info key under which each bulk job records its input line and file."""


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
    regular = output is not None and is_regular(output)
    exists = output is not None and regular and output.exists()
    if output is not None and not args.resume and exists and output.stat().st_size:
        raise UsageError(
            f"--output {str(output)!r} already exists: pass --resume to continue that run "
            "(already submitted lines are skipped), or choose another file"
        )
    if args.resume and output is not None and not regular:
        raise UsageError(f"--resume needs --output to be a regular file, not {str(output)!r}")
    info = None if args.info is None else read_json_object(args.info, "--info")
    defaults = Defaults(args.model, args.priority, info)
    source = "<stdin>" if args.file == "-" else Path(args.file).name
    previous: ResultsIndex | None = None
    resume = _Resume()
    if args.resume and output is not None and output.exists():
        previous = ResultsIndex(output)
        try:
            resume = _check_resume(previous, args.file, source, defaults)
        except BaseException:
            previous.close()
            raise
        drop_partial_tail(previous)  # only once the file is proven ours
    run = _BulkRun(args, output, regular, source, defaults, previous, resume)
    try:
        with make_client(args) as client:
            return run.execute(client)
    finally:
        run.finish()


@dataclasses.dataclass
class _Resume:
    """What the results file of an earlier run says, summed up (no per-line memory)."""

    skipped: LineRanges = dataclasses.field(default_factory=LineRanges)
    submitting: LineRanges = dataclasses.field(default_factory=LineRanges)
    unknown: LineRanges = dataclasses.field(default_factory=LineRanges)
    earlier: Counter[str] = dataclasses.field(default_factory=Counter)
    failed: LineRanges = dataclasses.field(default_factory=LineRanges)
    canceled: LineRanges = dataclasses.field(default_factory=LineRanges)

    @property
    def kept(self) -> int:
        """Lines not sent again: a job exists for them, or may."""
        return self.skipped.count + self.submitting.count + self.unknown.count


def _check_resume(previous: ResultsIndex, file: str, source: str, defaults: Defaults) -> _Resume:
    """Prove the results file belongs to this input, or refuse (`UsageError`, nothing changed).

    The header must name this input, and every line the file records as submitted (or
    maybe submitted) must be, byte for byte, the line the input has now (its digest).
    Lines to be retried may have been edited: they are sent as they are now.
    """
    where = f"--output {str(previous.path)!r}"
    if previous.input_name is None:
        return _Resume()  # an empty file: a fresh run
    if previous.input_name != source:
        raise UsageError(
            f"{where} holds the results of {previous.input_name!r}, not of {source!r}: "
            "resume with that input, or choose another --output (nothing was changed)"
        )
    summary = _Resume()
    matched = 0
    for item in read_input(file, defaults):
        state = previous.state(item.line)
        if state is None:
            continue
        matched += 1
        if not state.retry and state.digest != item.digest:
            raise UsageError(
                f"{where} does not belong to this input: line {item.line} of {file!r} is not "
                "the line it recorded as submitted (its content differs). Nothing was changed"
            )
        if state.status in FINISHED:
            summary.earlier[state.status] += 1
            if state.status == "failed":
                summary.failed.add(item.line)
            elif state.status == "canceled":
                summary.canceled.add(item.line)
        if state.submitted:
            summary.skipped.add(item.line)
        elif state.status == "submitting":
            summary.submitting.add(item.line)
        elif state.uncertain:
            summary.unknown.add(item.line)
    recorded = sum(1 for _ in previous.lines())
    if matched != recorded:
        raise UsageError(
            f"{where} does not belong to this input: it records {recorded - matched} line(s) "
            f"that are not non-blank lines of {file!r}. Nothing was changed"
        )
    return summary


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
    """One bulk submit: what to send, what was recorded, and what to tell the user."""

    def __init__(
        self,
        args: argparse.Namespace,
        output: Path | None,
        regular: bool,
        source: str,
        defaults: Defaults,
        previous: ResultsIndex | None,
        resume: _Resume,
    ) -> None:
        self.args = args
        self.secrets = secrets_of(args)
        self.output = output
        self.source = source
        self.defaults = defaults
        self.previous = previous
        self.resume = resume
        self.temp: Path | None = None
        if output is not None and regular:
            self.log = ResultLog(output, source)
        else:  # the log is still the record of progress: a temporary file, mirrored
            fd, name = tempfile.mkstemp(prefix="together-queue-", suffix=".jsonl")
            os.close(fd)
            self.temp = Path(name)
            self.log = ResultLog(self.temp, source, mirror=output)
        self.live = LiveLine(sys.stderr)
        self.style = Style(color_enabled(sys.stderr))
        lines = _count_lines(args.file)
        self.total = None if lines is None else max(0, lines - resume.kept)
        self.in_flight: dict[int, tuple[int, str, str]] = {}  # index -> (line, digest, model)
        self.sent = 0
        self.counts: Counter[str] = Counter()
        self.code = EXIT_OK
        self.phase = "submit"
        self.waiting = 0  # jobs to wait on, once the wait phase starts
        self.fatal: BaseException | None = None
        # Outcomes an earlier run recorded count in this run's summary and exit code.
        for status, count in resume.earlier.items():
            self.counts[f"earlier {status}"] += count
            self.code = max(self.code, _JOB_EXIT.get(status, EXIT_OK))

    @property
    def log_path(self) -> Path:
        """The file the records are appended to (and read back from)."""
        return self.log.path

    # -- running -------------------------------------------------------------------

    def execute(self, client: QueueClient) -> int:
        """Submit, then wait if asked; return the exit code (re-raise Ctrl-C after reporting)."""
        self._announce()
        try:
            self._submit_all(client)
            self._draw(force=True)
            self.live.close()  # the submit line stays on screen; waiting gets its own
            if self.fatal is not None:
                self._report_fatal()
                return max(self.code, EXIT_API)
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
        if self.previous is not None:
            self.previous.close()
        if self.temp is not None:
            self.temp.unlink(missing_ok=True)
        elif self.output is not None:
            compact(self.output)

    def _announce(self) -> None:
        r = self.resume
        if r.skipped:
            self.live.message(
                f"resuming: {r.skipped.count} line(s) already submitted are skipped "
                f"({r.skipped.text()})"
            )
        if r.failed:
            self.live.message(f"line(s) {r.failed.text()}: failed (in an earlier run)")
        if r.canceled:
            self.live.message(f"line(s) {r.canceled.text()}: canceled (in an earlier run)")
        if r.submitting:
            self.live.message(
                f"warning: line(s) {r.submitting.text()} may have been submitted: the earlier "
                "run was interrupted while their requests were in flight. They are NOT resent: "
                f"check them on the service (their info has {STAMP_KEY}.line)"
            )
        if r.unknown:
            self.live.message(
                f"warning: line(s) {r.unknown.text()} may have been submitted: the service's "
                "answer did not say (e.g. a server error or a broken connection after sending). "
                f"They are NOT resent: check them on the service (their info has {STAMP_KEY}.line)"
            )
        if r.submitting or r.unknown:
            self.code = max(self.code, EXIT_API)

    def _requests(self) -> Iterator[JobRequest]:
        """The lines to send, read as they are sent; each one's intent is logged first."""
        from together_queue.jobs import JobRequest

        for raw in read_input(self.args.file, self.defaults):
            if self.fatal is not None:
                return
            if self.previous is not None:
                state = self.previous.state(raw.line)
                if state is not None and not state.retry:
                    continue
            item = _stamped(raw, self.source)
            if item.request is None:
                self._final(
                    {
                        "line": item.line,
                        "digest": item.digest,
                        "status": "invalid",
                        "error": item.error,
                    }
                )
                continue
            request = item.request
            # The intent is on disk before the request leaves: a kill cannot hide a submit.
            self.log.write(
                {
                    "line": item.line,
                    "digest": item.digest,
                    "model": request.model,
                    "status": "submitting",
                }
            )
            self.in_flight[self.sent] = (item.line, item.digest, request.model)
            self.sent += 1
            yield JobRequest(
                request.model, request.payload, priority=request.priority, info=request.info
            )

    def _submit_all(self, client: QueueClient) -> None:
        stream = client.submit_iter(self._requests(), concurrency=self.args.concurrency)
        try:
            for outcome in stream:
                self._settle_submit(outcome)
                if self.fatal is not None:
                    break
                self._draw()
        except KeyboardInterrupt:
            self.live.close()
            if self.in_flight:
                print(
                    f"interrupted: recording the answers of {len(self.in_flight)} submit(s) in "
                    "flight (Ctrl-C again to stop at once)",
                    file=sys.stderr,
                    flush=True,
                )
            self._drain_after_interrupt(stream.close())
            raise
        for outcome in stream.close():  # after a fatal error: the answers still in flight
            self._settle_submit(outcome)

    def _drain_after_interrupt(self, rest: list[Outcome[Job, Any]]) -> None:
        """Record the answers that came in after Ctrl-C (a second Ctrl-C abandons the rest)."""
        self.live.close()
        for outcome in rest:
            self._settle_submit(outcome)

    def _settle_submit(self, outcome: Outcome[Job, Any]) -> None:
        from together_queue.errors import SubmitOutcomeUnknown, TogetherQueueError

        line, digest, model = self.in_flight.pop(outcome.index)
        base: dict[str, Any] = {"line": line, "digest": digest, "model": model}
        if outcome.ok:
            job = outcome.value
            record = {**base, "request_id": job.request_id, "status": "submitted"}
            self.counts["submitted"] += 1
            # Not flushed at once (each intent record flushes what came before): one
            # write call per line less, and a kill leaves the line `submitting`, never resent.
            if self.args.wait:  # not final yet: its final record comes from the wait
                self.log.write(record, flush=False)
                self.counts["processed"] += 1
            else:
                self._final(record, flush=False)
            return
        error = outcome.error
        if isinstance(error, SubmitOutcomeUnknown):
            # The service may have created the job: never resend it automatically.
            self._final({**base, "status": "unknown", "error": _unknown_text(error, line)})
            return
        if self.fatal is None and _is_fatal(error):
            self.fatal = error
        if isinstance(error, TogetherQueueError | TypeError | ValueError):
            # Refused before a job existed (or rejected locally): safe to retry with --resume.
            self._final({**base, "status": "error", "error": str(error)})
        else:  # not expected; recorded as unknown so that --resume never resends it
            self._final({**base, "status": "unknown", "error": f"{type(error).__name__}: {error}"})

    def _jobs_to_wait(
        self, client: QueueClient, lines: dict[int, tuple[int, str]]
    ) -> Iterator[Job]:
        """Jobs with a request id and no final status, read from the log in line order.

        Jobs an earlier run submitted but did not see finish are waited on as well.
        `lines` maps each yielded job's position to its (line, digest) until it is settled.
        """
        self.log.flush()  # the records not flushed yet are read back too
        index = ResultsIndex(self.log_path)
        try:
            position = 0
            for line in index.lines():
                state = index.state(line)
                if state is None or not state.request_id or not state.model:
                    continue
                if state.status in FINISHED:
                    continue
                lines[position] = (line, state.digest or "")
                position += 1
                yield client.job(state.request_id, model=state.model)
        finally:
            index.close()

    def _wait_all(self, client: QueueClient) -> None:
        from together_queue.errors import WaitTimeout

        self.waiting = sum(1 for _ in self._jobs_to_wait(client, {}))
        lines: dict[int, tuple[int, str]] = {}
        running: set[int] = set()

        def on_update(job: Job, status: JobStatus) -> None:
            if status.status == "running":
                running.add(hash(job))
            else:
                running.discard(hash(job))
            self.counts["running"] = len(running)
            self._draw()

        completed = client.as_completed(
            self._jobs_to_wait(client, lines),
            timeout=self.args.timeout,
            concurrency=self.args.concurrency,
            on_update=on_update,
        )
        for outcome in completed:
            job = outcome.item
            line, digest = lines.pop(outcome.index)
            running.discard(hash(job))
            self.counts["running"] = len(running)
            base = {
                "line": line,
                "digest": digest,
                "model": job.model,
                "request_id": job.request_id,
            }
            if outcome.ok:
                self._final(_status_record(base, outcome.value))
            elif isinstance(outcome.error, WaitTimeout):
                self._final({**base, "status": "timeout", "error": str(outcome.error)})
            else:
                self._final({**base, "status": "error", "error": str(outcome.error)})
            self._draw()

    # -- recording and reporting -----------------------------------------------------

    def _final(self, record: dict[str, Any], *, flush: bool = True) -> None:
        """Record a line's outcome for this command: log, stdout (--json), exit code."""
        if "error" in record:  # one place: the log, stdout and stderr all get this text
            record = {**record, "error": redact_all(str(record["error"]), self.secrets)}
        self.log.write(record, flush=flush)
        status = record["status"]
        self.counts["finished" if self.phase == "wait" else "processed"] += 1
        if status != "submitted":
            self.counts[status] += 1
        self.code = max(self.code, _STATUS_EXIT.get(status, _JOB_EXIT.get(status, EXIT_OK)))
        if self.args.json:
            emit_json(record)
        if status in _STATUS_EXIT and self.fatal is None:  # a fatal error is said once
            what = "" if status == "invalid" else f"{status}: "
            self.live.message(f"line {record['line']}: {what}{record.get('error', '')}")
        self._draw()

    def _draw(self, *, force: bool = False) -> None:
        c = self.counts
        if self.phase == "submit":
            done = c["processed"]
            if self.total is None:
                text = f"{done} lines  submitted {c['submitted']}"
            else:
                text = f"{progress_bar(done, self.total)} {done}/{self.total} lines"
                text += f"  submitted {c['submitted']}"
        else:
            total = self.waiting
            done = c["finished"]
            text = f"{progress_bar(done, total)} {done}/{total} finished  running {c['running']}"
            text += f"  done {c['done']}"
        for status in ("failed", "canceled", "invalid", "error", "unknown", "timeout"):
            if c[status]:
                text += f"  {status} {c[status]}"
        self.live.update(text, force=force)

    def _summary(self) -> str:
        c = self.counts
        parts = [f"{c['submitted']} submitted"]
        if self.args.wait:
            parts.append(f"{c['done']} done")
        parts += [
            f"{c[s]} {s}"
            for s in ("failed", "canceled", "invalid", "error", "unknown", "timeout")
            if c[s]
        ]
        if self.resume.skipped:
            parts.append(f"{self.resume.skipped.count} skipped (submitted before)")
        parts += [
            f"{c[key]} {key}"
            for key in ("earlier done", "earlier failed", "earlier canceled")
            if c[key]
        ]
        where = f"; results in {self.output}" if self.output else ""
        return f"{', '.join(parts)}{where}"

    def _report_done(self) -> None:
        if not self.args.json and self.output is None:
            rows = self._table_rows()
            if rows:
                print(render_table(["line", "request_id", "status", "outputs / error"], rows))
        print(self._summary(), file=sys.stderr if self.args.json else sys.stdout)
        if self.counts["timeout"]:
            print(
                f"{self.counts['timeout']} job(s) did not finish within --timeout (exit code "
                f"{EXIT_TIMEOUT}); they go on: "
                + (
                    f"keep waiting with: {self._resume_command()}"
                    if self.output is not None
                    else "wait on them with `together-queue wait`"
                ),
                file=sys.stderr,
            )

    def _table_rows(self) -> list[list[str]]:
        style = Style(color_enabled(sys.stdout))
        self.log.flush()  # the records not flushed yet are read back too
        index = ResultsIndex(self.log_path)
        try:
            return [_row(r, style) for line in index.lines() if (r := index.record(line))]
        finally:
            index.close()

    def _report_fatal(self) -> None:
        error = redact_all(str(self.fatal), self.secrets)
        print(f"stopped at the first fatal error: {error}", file=sys.stderr)
        print(
            "no further line was sent. " + self._summary(),
            file=sys.stderr,
        )
        if self.output is not None:
            print(f"fix it, then resume with: {self._resume_command()}", file=sys.stderr)
        else:
            self._print_request_ids()

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
        before = self.resume.skipped.count
        print(
            f"interrupted: {self.counts['submitted']} line(s) submitted in this run"
            + (f" ({before} in earlier runs)" if before else "")
            + ".",
            file=err,
        )
        unsure = sorted(line for line, _, _ in self.in_flight.values())
        if unsure:
            print(
                f"lines {', '.join(map(str, unsure))} may have been submitted (no answer "
                "recorded); --resume will not resend them",
                file=err,
            )
        if self.output is not None:
            print(f"resume with: {self._resume_command()}", file=err)
        else:
            self._print_request_ids()

    def _print_request_ids(self) -> None:
        """Without a results file, the request ids are only on screen: show those not shown."""
        self.log.flush()  # the records not flushed yet are read back too
        index = ResultsIndex(self.log_path)
        try:
            for line in index.lines():
                record = index.record(line)
                if not record or not record.get("request_id") or record["status"] in FINISHED:
                    continue
                if not self.args.json:
                    print(f"line {line}: {record['request_id']}", flush=True)
                elif self.args.wait:  # --json: each line's record once on stdout
                    emit_json(record)
        finally:
            index.close()
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
        if a.timeout is not None:
            words += ["--timeout", str(a.timeout)]
        words += ["--output", str(self.output), "--resume"]
        return shlex.join(words)


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
