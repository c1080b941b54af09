"""What a bulk submit shows: the counts and exit code (`Tally`) and the terminal (`BulkView`).

Progress is one live line on stderr (see `LiveLine`); messages about single lines go
above it. The summary goes to stdout, unless stdout carries JSON (`--json`, or
`--output /dev/stdout`), where only records may appear: then to stderr. Text that
came from the service or a worker is escaped (`printable`) before it is shown.
"""

from __future__ import annotations

import dataclasses
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from together_queue.cli.common import EXIT_API, EXIT_JOB, EXIT_OK, EXIT_TIMEOUT, EXIT_USAGE
from together_queue.cli.output import (
    LiveLine,
    Style,
    color_enabled,
    compact_json,
    emit_json,
    printable,
    progress_bar,
    render_table,
)
from together_queue.cli.records import Record
from together_queue.cli.resume import ResumeState

__all__ = ["STAMP_KEY", "BulkView", "Tally"]

STAMP_KEY = "together_queue"
"""The info key under which each bulk job records its input line and file."""

# The exit code a line's final status contributes; the run exits with the worst (highest).
_STATUS_EXIT = {
    "invalid": EXIT_USAGE,
    "error": EXIT_API,
    "unknown": EXIT_API,
    "timeout": EXIT_TIMEOUT,
}
_JOB_EXIT = {"failed": EXIT_JOB, "canceled": EXIT_JOB}
_PROBLEMS = ("failed", "canceled", "invalid", "error", "unknown", "timeout")


@dataclasses.dataclass
class Tally:
    """The run's counts by status and phase, and the exit code they add up to."""

    counts: Counter[str] = dataclasses.field(default_factory=Counter)
    code: int = EXIT_OK

    def worsen(self, code: int) -> None:
        """Raise the exit code to `code` if that is worse."""
        self.code = max(self.code, code)

    def earlier(self, resume: ResumeState) -> None:
        """Outcomes an earlier run recorded count in this run's summary and exit code."""
        for status, count in resume.earlier.items():
            self.counts[f"earlier {status}"] += count
            self.worsen(_JOB_EXIT.get(status, EXIT_OK))
        if resume.uncertain:
            self.worsen(EXIT_API)

    def final(self, status: str, *, waiting: bool) -> None:
        """Count a line's final status for this run."""
        self.counts["finished" if waiting else "processed"] += 1
        if status != "submitted":
            self.counts[status] += 1
        self.worsen(_STATUS_EXIT.get(status, _JOB_EXIT.get(status, EXIT_OK)))


class BulkView:
    """The terminal side of one bulk run: live progress, messages, summary and reports."""

    def __init__(
        self,
        *,
        json_mode: bool,
        records_on_stdout: bool,
        wait: bool,
        output: Path | None,
        total: int | None,
    ) -> None:
        self.json_mode = json_mode
        self.records_on_stdout = records_on_stdout
        self.wait = wait
        self.output = output
        self.total = total  # lines to send in this run (None: unknown, read from stdin)
        self.tally = Tally()
        self.live = LiveLine(sys.stderr)
        self.waiting: int | None = None  # jobs to wait on, once the wait phase starts
        self.skipped = 0  # lines an earlier run submitted
        self._behind = False  # counts changed since the live line's text was last made

    # -- during the run --------------------------------------------------------------

    def announce(self, resume: ResumeState) -> None:
        """Say what the earlier run's results file means for this run."""
        self.skipped = resume.skipped.count
        self.tally.earlier(resume)
        if resume.skipped:
            self.live.message(
                f"resuming: {resume.skipped.count} line(s) already submitted are skipped "
                f"({resume.skipped.text()})"
            )
        if resume.failed:
            self.live.message(f"line(s) {resume.failed.text()}: failed (in an earlier run)")
        if resume.canceled:
            self.live.message(f"line(s) {resume.canceled.text()}: canceled (in an earlier run)")
        where = f"check them on the service (their info has {STAMP_KEY}.line)"
        if resume.submitting:
            self.live.message(
                f"warning: line(s) {resume.submitting.text()} may have been submitted: the "
                "earlier run was interrupted while their requests were in flight. They are NOT "
                f"resent: {where}"
            )
        if resume.unknown:
            self.live.message(
                f"warning: line(s) {resume.unknown.text()} may have been submitted: the service's "
                "answer did not say (e.g. a server error or a broken connection after sending). "
                f"They are NOT resent: {where}"
            )

    def end_submitting(self) -> None:
        """The submit phase is over: its last state stays on screen."""
        self.draw(force=True)
        self.live.close()

    def start_waiting(self, count: int) -> None:
        """`count` jobs are to be waited on: waiting gets its own live line."""
        self.waiting = count

    def submitted(self, record: Record, *, final: bool) -> None:
        """A line was submitted; `final` when its `submitted` record is its last in this run."""
        self.tally.counts["submitted"] += 1
        if final:
            self.final(record, quiet=False)
        else:  # its final record comes from the wait
            self.tally.counts["processed"] += 1
            self.draw()

    def final(self, record: Record, *, quiet: bool) -> None:
        """Show a line's final record: counts, exit code, `--json`, and a message if it went wrong.

        `quiet` keeps the per-line message back (a fatal error is said once, at the end).
        """
        self.tally.final(record.status, waiting=self.waiting is not None)
        if self.json_mode and not self.records_on_stdout:
            emit_json(record.to_json())
        if record.status in _STATUS_EXIT and not quiet:
            what = "" if record.status == "invalid" else f"{record.status}: "
            self.live.message(f"line {record.line}: {what}{printable(record.error or '')}")
        self.draw()

    def running(self, count: int) -> None:
        """`count` jobs are running now."""
        self.tally.counts["running"] = count
        self.draw()

    def draw(self, *, force: bool = False) -> None:
        """Redraw the live line (throttled unless `force`); no bar when there is nothing to do.

        Called once per line: between redraws it only notes that the line is behind
        (`close()` brings it up to date), so the text is built a few times a second.
        """
        if not force and not self.live.due():
            self._behind = True
            return
        self._behind = False
        text = self._text()
        if text is not None:
            self.live.update(text, force=force)

    def _text(self) -> str | None:
        """The live line's text now (None: no bar, nothing to do)."""
        c = self.tally.counts
        if self.waiting is None:
            done = c["processed"]
            if self.total == 0:
                return None
            if self.total is None:
                text = f"{done} lines  submitted {c['submitted']}"
            else:
                text = f"{progress_bar(done, self.total)} {done}/{self.total} lines"
                text += f"  submitted {c['submitted']}"
        else:
            if not self.waiting:
                return None
            done = c["finished"]
            text = f"{progress_bar(done, self.waiting)} {done}/{self.waiting} finished"
            text += f"  running {c['running']}  done {c['done']}"
        for status in _PROBLEMS:
            if c[status]:
                text += f"  {status} {c[status]}"
        return text

    def close(self) -> None:
        """Leave the live line showing the latest state."""
        if self._behind:  # a draw was skipped: the line must end on the latest counts
            self._behind = False
            text = self._text()
            if text is not None:
                self.live.update(text)  # throttled: close() shows it if it is not drawn now
        self.live.close()

    # -- at the end ----------------------------------------------------------------------

    def summary(self) -> str:
        """`3 submitted, 1 failed; results in out.jsonl`."""
        c = self.tally.counts
        parts = [f"{c['submitted']} submitted"]
        if self.wait:
            parts.append(f"{c['done']} done")
        parts += [f"{c[s]} {s}" for s in _PROBLEMS if c[s]]
        if self.skipped:
            parts.append(f"{self.skipped} skipped (submitted before)")
        parts += [
            f"{c[key]} {key}"
            for key in ("earlier done", "earlier failed", "earlier canceled")
            if c[key]
        ]
        where = f"; results in {printable(self.output)}" if self.output else ""
        return f"{', '.join(parts)}{where}"

    def report_done(
        self, records: Iterable[Record], resume_command: Callable[[], str | None]
    ) -> None:
        """The table (no `--output`, no `--json`), the summary, and what to do after a timeout.

        `resume_command` is called only when the command is shown (building it builds
        the whole argument parser again).
        """
        if not self.json_mode and self.output is None:
            style = Style(color_enabled(sys.stdout))
            rows = [_row(r, style) for r in records]
            if rows:
                print(render_table(["line", "request_id", "status", "outputs / error"], rows))
        stdout_is_json = self.json_mode or self.records_on_stdout
        print(self.summary(), file=sys.stderr if stdout_is_json else sys.stdout)
        timeouts = self.tally.counts["timeout"]
        if timeouts:
            command = resume_command()
            then = (
                f"keep waiting with: {command}"
                if command
                else "wait on them with `together-queue wait`"
            )
            print(
                f"{timeouts} job(s) did not finish within --timeout (exit code "
                f"{EXIT_TIMEOUT}); they go on: {then}",
                file=sys.stderr,
            )

    def report_fatal(self, error: str, resume_command: str | None) -> None:
        """The run stopped at an error every line would meet: say it once, and how to go on."""
        print(f"stopped at the first fatal error: {printable(error)}", file=sys.stderr)
        print("no further line was sent. " + self.summary(), file=sys.stderr)
        if resume_command:
            print(f"fix it, then resume with: {resume_command}", file=sys.stderr)

    def report_interrupt(self, unsure: list[int], resume_command: str | None) -> None:
        """What Ctrl-C left: what was sent, what may have been, and how to go on."""
        err = sys.stderr
        if self.waiting is not None:
            print(
                "interrupted while waiting: every line was submitted "
                f"({self.tally.counts['finished']} of {self.waiting} finished).",
                file=err,
            )
            if resume_command:
                print(f"keep waiting with: {resume_command}", file=err)
            return
        print(
            f"interrupted: {self.tally.counts['submitted']} line(s) submitted in this run"
            + (f" ({self.skipped} in earlier runs)" if self.skipped else "")
            + ".",
            file=err,
        )
        if unsure:
            print(
                f"lines {', '.join(map(str, unsure))} may have been submitted (no answer "
                "recorded); --resume will not resend them",
                file=err,
            )
        if resume_command:
            print(f"resume with: {resume_command}", file=err)

    def report_request_ids(self, records: Iterable[Record]) -> None:
        """Without a results file the request ids are only on screen: show those not shown."""
        for record in records:
            if not record.request_id or record.finished:
                continue
            if not self.json_mode:
                print(f"line {record.line}: {printable(record.request_id)}", flush=True)
            elif self.wait:  # --json: each line's record once on stdout
                emit_json(record.to_json())
        print(
            "no --output file: the request ids above are the only record; "
            "pass --output next time to make a run resumable",
            file=sys.stderr,
        )


def _row(record: Record, style: Style) -> list[str]:
    if record.error is not None:
        detail = printable(record.error)
    else:
        detail = compact_json(record.outputs) if record.outputs is not None else ""
    return [
        str(record.line),
        printable(record.request_id or "-"),
        style.status(printable(record.status)),
        detail,
    ]
