"""`submit --file ... --resume`: what the results file of an earlier run says, proven first.

The earlier file is read through a `ResultsIndex` (flat memory); what it says is kept
as counts and line ranges, never as a record per line.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

from together_queue.cli.common import UsageError
from together_queue.cli.jsonl import Defaults, read_input
from together_queue.cli.output import LineRanges
from together_queue.cli.results import ResultsIndex, drop_partial_tail

__all__ = ["ResumeState", "load_resume"]


@dataclasses.dataclass
class ResumeState:
    """An earlier run's results file, summed up; `previous` reads its records on demand."""

    previous: ResultsIndex | None = None
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

    @property
    def uncertain(self) -> bool:
        """Some lines may have created jobs whose ids were never recorded."""
        return bool(self.submitting or self.unknown)

    def sends(self, line: int) -> bool:
        """Whether input line `line` is to be sent in this run (no job can exist for it)."""
        if self.previous is None:
            return True
        state = self.previous.state(line)
        return state is None or state.retry

    def close(self) -> None:
        """Close the earlier results file."""
        if self.previous is not None:
            self.previous.close()


def load_resume(output: Path, file: str, source: str, defaults: Defaults) -> ResumeState:
    """Read and prove the results file `output` of an earlier run of `file` (named `source`).

    The header must name this input, and every line the file records as submitted (or
    maybe submitted) must be, byte for byte, the line the input has now (its digest).
    Lines to be retried may have been edited: they are sent as they are now. Refusals
    are `UsageError`s that change nothing; once proven, a record a kill cut short is
    dropped so that appending starts a fresh line.
    """
    if not output.exists():
        return ResumeState()
    previous = ResultsIndex(output)
    try:
        state = _check(previous, file, source, defaults)
    except BaseException:
        previous.close()
        raise
    drop_partial_tail(previous)  # only once the file is proven ours
    return state


def _check(previous: ResultsIndex, file: str, source: str, defaults: Defaults) -> ResumeState:
    where = f"--output {str(previous.path)!r}"
    summary = ResumeState(previous)
    if previous.input_name is None:
        return summary  # an empty file: a fresh run
    if previous.input_name != source:
        raise UsageError(
            f"{where} holds the results of {previous.input_name!r}, not of {source!r}: "
            "resume with that input, or choose another --output (nothing was changed)"
        )
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
        if state.finished:
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
