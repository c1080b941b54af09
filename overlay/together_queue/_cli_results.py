"""The results file of a bulk submit: an append-only JSON Lines log, one record per event.

Records are `{"line": N, "model": ..., "request_id": ..., "status": ..., "outputs"?, "error"?}`.
A line's last record is its state. Before a line is sent, a `submitting` record is
written and flushed; so after any interruption, even a kill, every line whose
submit may have reached the service is known, and `--resume` never sends it again.
At the end of a run the log is compacted to the last record per line, in line order.

CLI statuses, besides the service's (`pending`, `running`, `done`, `failed`, `canceled`):
`submitting` (sent, answer not yet recorded), `submitted`, `invalid` (a bad input
line), `error` (the service refused it or waiting on it failed), `unknown` (the
submit may or may not have created a job).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TextIO

from together_queue._cli_common import UsageError

FINISHED: Final = frozenset({"done", "failed", "canceled"})
"""Service statuses after which a job never changes."""
UNCERTAIN: Final = frozenset({"submitting", "unknown"})
"""CLI statuses of a line that may have been submitted without a recorded request id."""


@dataclass
class LineState:
    """What the results log says about one input line."""

    line: int
    status: str
    request_id: str | None = None
    model: str | None = None

    @property
    def submitted(self) -> bool:
        """A job exists for this line (its request id is recorded)."""
        return self.request_id is not None

    @property
    def uncertain(self) -> bool:
        """The line may have created a job whose id was never recorded: never resend it."""
        return self.request_id is None and self.status in UNCERTAIN


def _decode_records(path: Path) -> list[dict[str, Any]]:
    try:
        # split("\n"), not splitlines(): a JSON string may hold U+2028, U+0085 and the
        # like unescaped (files written before records were ASCII-only), and those are
        # not record separators.
        lines = path.read_text(encoding="utf-8").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--output: cannot read {str(path)!r}: {exc}") from None
    records: list[dict[str, Any]] = []
    for number, text in enumerate(lines, start=1):
        text = text.removesuffix("\r")
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except ValueError:
            if number == len(lines):
                continue  # a record cut short by a kill: its line's intent record came before it
            raise UsageError(
                f"--output: {str(path)!r} line {number} is not JSON; is it a results file?"
            ) from None
        if not isinstance(record, dict) or not _is_line_number(record.get("line")):
            raise UsageError(
                f"--output: {str(path)!r} line {number} has no line number; is it a results file?"
            )
        records.append(record)
    return records


def _is_line_number(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def fold(records: Iterable[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """The last record of each line, with `request_id`/`model` carried over from earlier ones."""
    latest: dict[int, dict[str, Any]] = {}
    for record in records:
        line = record["line"]
        previous = latest.get(line, {})
        merged = dict(record)
        for key in ("request_id", "model"):
            if merged.get(key) is None and previous.get(key) is not None:
                merged[key] = previous[key]
        latest[line] = merged
    return latest


def load_states(path: Path) -> dict[int, LineState]:
    """The state of every line recorded in the results file at `path` (none if it is missing).

    `UsageError` when a record's request id or model is not a non-blank string
    without surrounding whitespace: a hand-edited or foreign file, not ours to guess at.
    """
    states: dict[int, LineState] = {}
    for line, record in fold(_decode_records(path)).items():
        request_id = record.get("request_id")
        model = record.get("model")
        for key, value in (("request_id", request_id), ("model", model)):
            if value is not None and not (
                isinstance(value, str) and value.strip() and value == value.strip()
            ):
                raise UsageError(
                    f"--output: {str(path)!r}: the record of input line {line} has an invalid "
                    f"{key} ({value!r}); fix or remove that record"
                )
        states[line] = LineState(
            line=line,
            status=str(record.get("status", "")),
            request_id=request_id if isinstance(request_id, str) and request_id else None,
            model=model if isinstance(model, str) else None,
        )
    return states


def dumps_record(record: dict[str, Any]) -> str:
    """One record as a line of ASCII JSON: no character in it can read as a line break."""
    return json.dumps(record, ensure_ascii=True)


def compact(path: Path) -> None:
    """Rewrite the log as one record per line (its last), in line order; atomic."""
    latest = fold(_decode_records(path))
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for line in sorted(latest):
            handle.write(dumps_record(latest[line]) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class ResultLog:
    """Appends records to the results file, flushing each one as soon as it is written."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._handle: TextIO | None = None
        if path is not None:
            try:
                self._handle = path.open("a", encoding="utf-8")
            except OSError as exc:
                raise UsageError(
                    f"--output: cannot write {str(path)!r}: {exc.strerror or exc}"
                ) from None

    def write(self, record: dict[str, Any]) -> None:
        """Append one record and flush it to the operating system."""
        if self._handle is not None:
            self._handle.write(dumps_record(record) + "\n")
            self._handle.flush()

    def close(self) -> None:
        """Close the file."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
