"""The results file of a bulk submit: an append-only JSON Lines log, one record per event.

The first record is a header, `{"together_queue_results": 1, "input": NAME}`, naming
the input file it belongs to. Every other record is
`{"line": N, "digest": D, "model": ..., "request_id": ..., "status": ..., "outputs"?, "error"?}`,
where `digest` fingerprints input line N's bytes: `--resume` uses both to prove the
file belongs to the input before it trusts (or changes) anything.
A line's last record is its state. Before a line is sent, a `submitting` record is
written and flushed; so after any interruption, even a kill, every line whose
submit may have reached the service is known, and `--resume` never sends it again.
At the end of a run a regular results file is compacted to the header and the last
record per line, in line order.

Memory stays flat in the number of lines: the file is read back through an index
of one byte offset per line (8 bytes), and records are read from disk when needed.

CLI statuses, besides the service's (`pending`, `running`, `done`, `failed`, `canceled`):
`submitting` (sent, answer not yet recorded), `submitted`, `invalid` (a bad input
line), `error` (the service refused it or waiting on it failed), `unknown` (the
submit may or may not have created a job), `timeout` (waiting on it ran out of time).
"""

from __future__ import annotations

import array
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

from together_queue.cli.common import UsageError

FORMAT: Final = 1
"""The version of the results file layout (the header's `together_queue_results`)."""
HEADER_KEY: Final = "together_queue_results"
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
    digest: str | None = None

    @property
    def submitted(self) -> bool:
        """A job exists for this line (its request id is recorded)."""
        return self.request_id is not None

    @property
    def uncertain(self) -> bool:
        """The line may have created a job whose id was never recorded: never resend it."""
        return self.request_id is None and self.status in UNCERTAIN

    @property
    def retry(self) -> bool:
        """Whether `--resume` submits the line again (no job can exist for it)."""
        return not self.submitted and not self.uncertain


def header(input_name: str) -> dict[str, Any]:
    """The first record of a results file for the input named `input_name`."""
    return {HEADER_KEY: FORMAT, "input": input_name}


def dumps_record(record: dict[str, Any]) -> str:
    """One record as a line of ASCII JSON: no character in it can read as a line break."""
    return json.dumps(record, ensure_ascii=True)


def is_regular(path: Path) -> bool:
    """True when `path` is (or would be created as) a regular file, not a pipe or device."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except FileNotFoundError:
        return True


class ResultsIndex:
    """Random access to the last record of each line of a results file, in flat memory.

    Scanning keeps one byte offset per line number (`array('q')`), not the records;
    `record(n)` reads line n's record from disk. Records appended after the scan are
    not seen (the offsets stop at `end`).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.input_name: str | None = None
        self.end = 0  # the byte after the last complete record
        self.missing_newline = False  # the last record is whole but lacks its line break
        self._offsets: array.array[int] = array.array("q")
        self._handle: IO[bytes] | None = None
        self._scan()

    def _scan(self) -> None:
        where = f"--output: {str(self.path)!r}"
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            return
        except OSError as exc:
            raise UsageError(f"{where}: cannot read: {exc.strerror or exc}") from None
        self._handle = handle
        offset = 0
        for number, raw in enumerate(handle, start=1):
            start, offset = offset, offset + len(raw)
            if not raw.endswith(b"\n"):
                try:
                    json.loads(raw)
                except ValueError:
                    break  # a record cut short by a kill: its line's intent record came first
                self.missing_newline = True  # a whole record, hand-edited: keep it
            self.end = offset
            if not raw.strip():
                continue
            record = _decode(raw, f"{where} line {number}")
            if number == 1:
                if record.get(HEADER_KEY) != FORMAT or not isinstance(record.get("input"), str):
                    raise UsageError(
                        f"{where} has no results header: it is not a results file of this "
                        "version of together-queue, so it cannot be resumed"
                    )
                self.input_name = record["input"]
                continue
            line = record.get("line")
            if not (isinstance(line, int) and not isinstance(line, bool) and line >= 1):
                raise UsageError(f"{where} line {number} has no line number; is it a results file?")
            if line >= len(self._offsets):
                self._offsets.extend([-1] * (line + 1 - len(self._offsets)))
            self._offsets[line] = start

    def lines(self) -> Iterator[int]:
        """The input line numbers that have a record, ascending."""
        for line, offset in enumerate(self._offsets):
            if offset >= 0:
                yield line

    def record(self, line: int) -> dict[str, Any] | None:
        """The last record of input line `line` (None when it has none)."""
        if self._handle is None or line >= len(self._offsets) or self._offsets[line] < 0:
            return None
        self._handle.seek(self._offsets[line])
        return _decode(self._handle.readline(), f"--output: {str(self.path)!r}")

    def state(self, line: int) -> LineState | None:
        """The state of input line `line`; `UsageError` on a malformed id or model."""
        record = self.record(line)
        return None if record is None else state_of(record, self.path)

    def close(self) -> None:
        """Close the file."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def state_of(record: dict[str, Any], path: Path) -> LineState:
    """A record as a `LineState`; `UsageError` if its request id or model is not a clean string.

    A hand-edited or foreign file is not ours to guess at.
    """
    request_id = record.get("request_id")
    model = record.get("model")
    for key, value in (("request_id", request_id), ("model", model)):
        if value is not None and not (
            isinstance(value, str) and value.strip() and value == value.strip()
        ):
            raise UsageError(
                f"--output: {str(path)!r}: the record of input line {record['line']} has an "
                f"invalid {key} ({value!r}); fix or remove that record"
            )
    digest = record.get("digest")
    return LineState(
        line=record["line"],
        status=str(record.get("status", "")),
        request_id=request_id,
        model=model,
        digest=digest if isinstance(digest, str) else None,
    )


def _decode(raw: bytes, where: str) -> dict[str, Any]:
    try:
        record = json.loads(raw)
    except ValueError:
        raise UsageError(f"{where} is not JSON; is it a results file?") from None
    if not isinstance(record, dict):
        raise UsageError(f"{where} is not a JSON object; is it a results file?")
    return record


def drop_partial_tail(index: ResultsIndex) -> None:
    """Make appending start a fresh line.

    A record a kill left half-written is cut; a whole last record that lacks its line
    break (a hand edit) is kept and ended.
    """
    if index.path.stat().st_size > index.end:
        os.truncate(index.path, index.end)
    elif index.missing_newline:
        with index.path.open("ab") as handle:
            handle.write(b"\n")


def compact(path: Path) -> None:
    """Rewrite a regular results file as its header and one record per line, in line order.

    Written to a fresh temporary file beside the real file (never a fixed name that
    could be a planted symlink), then renamed over it: atomic, and a symlinked
    `--output` stays a symlink to the compacted file. Pipes and devices are left alone.
    """
    if not path.exists() or not is_regular(path):
        return
    index = ResultsIndex(path)
    try:
        if index.input_name is None:
            return  # empty, or not ours: nothing to compact
        target = Path(os.path.realpath(path))
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(dumps_record(header(index.input_name)) + "\n")
                for line in index.lines():
                    out.write(dumps_record(index.record(line) or {}) + "\n")
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp_name, stat.S_IMODE(target.stat().st_mode))
            os.replace(tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
    finally:
        index.close()


class ResultLog:
    """Appends records to the log, flushing each one; optionally mirrors them to a stream.

    The mirror is for an `--output` that is a pipe or device (`/dev/stdout`): the log
    itself is then a temporary regular file, which the run reads back and compacts.
    """

    def __init__(self, path: Path, input_name: str, mirror: Path | None = None) -> None:
        self.path = path
        self._mirror: IO[str] | None = None
        try:
            fresh = not path.exists() or path.stat().st_size == 0
            self._handle: IO[str] | None = path.open("a", encoding="utf-8")
            if mirror is not None:
                self._mirror = mirror.open("a", encoding="utf-8")
        except OSError as exc:
            where = mirror if mirror is not None else path
            raise UsageError(
                f"--output: cannot write {str(where)!r}: {exc.strerror or exc}"
            ) from None
        if fresh:
            self.write(header(input_name))

    def write(self, record: dict[str, Any], *, flush: bool = True) -> None:
        """Append one record; flush it (and any before it) to the operating system.

        `flush=False` is for records whose loss to a kill is safe: an answer's record
        left unflushed leaves its line `submitting`, which `--resume` never resends.
        The next flushed record (every line's intent record is one) carries it out.
        """
        text = dumps_record(record) + "\n"
        for handle in (self._handle, self._mirror):
            if handle is not None:
                handle.write(text)
                if flush:
                    handle.flush()

    def flush(self) -> None:
        """Flush every record written so far (before the log is read back)."""
        for handle in (self._handle, self._mirror):
            if handle is not None:
                handle.flush()

    def close(self) -> None:
        """Close the file (and the mirror)."""
        for handle in (self._handle, self._mirror):
            if handle is not None:
                handle.close()
        self._handle = self._mirror = None
