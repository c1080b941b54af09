"""Where a bulk run's records go: `--output`, or a temporary file mirrored to a stream.

The log is the run's record of progress, read back when waiting and reporting. With a
regular `--output` it is that file, compacted at the end. Without one, or when
`--output` is a pipe, a device or this process's own standard output, the log is a
temporary file (removed at the end) and every record is also written to the stream.
"""

from __future__ import annotations

import contextlib
import enum
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from together_queue.cli.common import UsageError
from together_queue.cli.records import Record
from together_queue.cli.results import (
    ResultLog,
    ResultsIndex,
    check_output_path,
    compact,
    is_regular,
    is_stdout,
)

__all__ = ["BulkLog", "OutputKind", "output_kind"]


class OutputKind(enum.Enum):
    """What `--output` names: nothing, a regular file, standard output, or another stream."""

    NONE = "none"
    FILE = "file"
    STDOUT = "stdout"
    STREAM = "stream"


def output_kind(output: Path | None) -> OutputKind:
    """The `OutputKind` of `output`; `UsageError` for a symlink this command must not follow."""
    if output is None:
        return OutputKind.NONE
    if is_stdout(output):
        return OutputKind.STDOUT
    check_output_path(output)
    return OutputKind.FILE if is_regular(output) else OutputKind.STREAM


class BulkLog:
    """The results log of one bulk run (see the module docstring)."""

    def __init__(self, output: Path | None, kind: OutputKind, source: str) -> None:
        self.output = output
        self.kind = kind
        self.temp: Path | None = None
        self._stream: IO[str] | None = None  # a stream this log opened (and closes)
        if output is not None and kind == OutputKind.FILE:
            self.log = ResultLog(output, source)
            return
        mirror: IO[str] | None = None
        if kind == OutputKind.STDOUT:
            mirror = sys.stdout
        elif output is not None:
            try:
                self._stream = mirror = output.open("a", encoding="utf-8")
            except OSError as exc:
                raise UsageError(
                    f"--output: cannot write {str(output)!r}: {exc.strerror or exc}"
                ) from None
        fd, name = tempfile.mkstemp(prefix="together-queue-", suffix=".jsonl")
        os.close(fd)
        self.temp = Path(name)
        self.log = ResultLog(self.temp, source, mirror=mirror)

    @property
    def path(self) -> Path:
        """The file the records are appended to (and read back from)."""
        return self.log.path

    @property
    def on_stdout(self) -> bool:
        """The records go to standard output: nothing else may be printed there."""
        return self.kind == OutputKind.STDOUT

    def write(self, record: Record, *, flush: bool = True) -> None:
        """Append `record` (see `ResultLog.write` for `flush`)."""
        self.log.write(record, flush=flush)

    def flush(self) -> None:
        """Flush every record written so far."""
        self.log.flush()

    @contextlib.contextmanager
    def index(self) -> Iterator[ResultsIndex]:
        """The log as written so far, for reading back by line."""
        self.log.flush()  # the records not flushed yet are read back too
        index = ResultsIndex(self.path, own=True)
        try:
            yield index
        finally:
            index.close()

    def records(self) -> Iterator[Record]:
        """Each line's last record so far, in line order."""
        with self.index() as index:
            for line in index.lines():
                record = index.state(line)
                if record is not None:
                    yield record

    def finish(self) -> None:
        """Close the log; remove a temporary one, or compact the results file."""
        self.log.close()
        if self._stream is not None:
            with contextlib.suppress(OSError):  # a reader that went away
                self._stream.close()
        if self.temp is not None:
            self.temp.unlink(missing_ok=True)
        elif self.output is not None:
            compact(self.output, self.log.written())
