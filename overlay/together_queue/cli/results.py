"""The results file of a bulk submit: an append-only JSON Lines log, one record per event.

The records are described in `cli.records`. Before a line is sent, a `submitting`
record is written and flushed; so after any interruption, even a kill, every line
whose submit may have reached the service is known, and `--resume` never sends it
again. At the end of a run a regular results file is compacted to the header and
the last record per line, in line order.

Memory stays flat in the number of lines: the file is read back through an index
of one byte offset per line (8 bytes), and records are read from disk when needed.

The file holds job outputs, so it is created 0600, a rewrite never gives it wider
permissions than it had, and a symlink at `--output` is written through only when
it and its target both belong to the user running the command.
"""

from __future__ import annotations

import array
import json
import os
import stat
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, TypeAlias

from together_queue.cli.common import UsageError
from together_queue.cli.records import FINISHED, FORMAT, HEADER_KEY, UNCERTAIN, Record, header

__all__ = [
    "FINISHED",
    "UNCERTAIN",
    "ResultLog",
    "ResultsIndex",
    "check_output_path",
    "compact",
    "drop_partial_tail",
    "dumps_record",
    "header",
    "is_regular",
    "is_stdout",
]

_MODE = 0o600
"""The permissions of a results file this command creates."""
_KEPT_BITS = 0o644
"""The most a rewrite keeps of a results file's permissions: never writable by others."""

#: What a `ResultLog` knows of the file it wrote whole: (input name, offsets, size).
Written: TypeAlias = "tuple[str, array.array[int], int]"


def dumps_record(record: dict[str, Any]) -> str:
    """One record as a line of ASCII JSON: no character in it can read as a line break."""
    return json.dumps(record, ensure_ascii=True)


def is_regular(path: Path) -> bool:
    """True when `path` is (or would be created as) a regular file, not a pipe or device."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except FileNotFoundError:
        return True


def is_stdout(path: Path) -> bool:
    """True when `path` is this process's standard output (`/dev/stdout`, or the file `>` named)."""
    try:
        return os.path.samestat(path.stat(), os.fstat(sys.stdout.fileno()))
    except (OSError, ValueError, AttributeError):  # no such file; stdout not a real file
        return False


def check_output_path(path: Path) -> None:
    """Refuse a symlink at `path` that leads to a file, unless the user owns it and its target.

    A link planted by someone else (in a shared folder) must not make this command
    write job outputs into, or create, a file of their choosing; nor a dangling link.
    Links to pipes and terminals (`/dev/stdout`, `/dev/fd/N`) are streams, not files.
    """
    try:
        link = path.lstat()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UsageError(f"--output: cannot inspect {str(path)!r}: {exc.strerror or exc}") from None
    if not stat.S_ISLNK(link.st_mode):
        return
    try:
        target = path.stat()
    except FileNotFoundError:
        raise UsageError(
            f"--output {str(path)!r} is a symlink to a file that does not exist: refusing to "
            "create a file through it; give the real path"
        ) from None
    except OSError as exc:
        raise UsageError(f"--output: cannot follow {str(path)!r}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(target.st_mode):
        return
    me = os.getuid()
    if link.st_uid != me or target.st_uid != me:
        raise UsageError(
            f"--output {str(path)!r} is a symlink, and it or the file it points to belongs to "
            "another user: refusing to write through it; give the real path"
        )


class ResultsIndex:
    """Random access to the last record of each line of a results file, in flat memory.

    Scanning keeps one byte offset per line number (`array('q')`), not the records;
    `record(n)` reads line n's record from disk. Records appended after the scan are
    not seen (the offsets stop at `end`).
    """

    def __init__(self, path: Path, *, own: bool = False, written: Written | None = None) -> None:
        self.path = path
        self.own = own  # records in this command's own form are indexed without decoding
        self.input_name: str | None = None
        self.end = 0  # the byte after the last complete record
        self.missing_newline = False  # the last record is whole but lacks its line break
        self._offsets: array.array[int] = array.array("q")
        self._handle: IO[bytes] | None = None
        if written is None:
            self._scan()
            return
        # What `ResultLog.written` kept while writing the whole file: no scan needed.
        self.input_name, self._offsets, self.end = written
        self._handle = self.path.open("rb")

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
            if number > 1 and self.own and (mine := _own_line(raw)) is not None:
                self._index(mine, start)
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
            self._index(line, start)

    def _index(self, line: int, offset: int) -> None:
        _set_offset(self._offsets, line, offset)

    def lines(self) -> Iterator[int]:
        """The input line numbers that have a record, ascending."""
        for line, offset in enumerate(self._offsets):
            if offset >= 0:
                yield line

    def raw(self, line: int) -> dict[str, Any] | None:
        """The last record of input line `line` as it is in the file (None when it has none)."""
        data = self.raw_bytes(line)
        return None if data is None else _decode(data, f"--output: {str(self.path)!r}")

    def raw_bytes(self, line: int) -> bytes | None:
        """The last record of input line `line`, its bytes as in the file (None: it has none)."""
        if self._handle is None or line >= len(self._offsets) or self._offsets[line] < 0:
            return None
        self._handle.seek(self._offsets[line])
        return self._handle.readline()

    def state(self, line: int) -> Record | None:
        """The last record of input line `line`; `UsageError` on a malformed id or model."""
        data = self.raw(line)
        return None if data is None else Record.from_json(data, self.path)

    def close(self) -> None:
        """Close the file."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None


_OWN_PREFIX = b'{"line": '
"""How every record this command writes begins (`Record.to_json` puts `line` first)."""


def _own_line(raw: bytes) -> int | None:
    """The line number of a record in this command's own form (`{"line": N, ...}`), else None.

    Read without decoding the record: a run's own log is indexed at the speed of a scan.
    """
    if not raw.startswith(_OWN_PREFIX):
        return None
    end = raw.find(b",", len(_OWN_PREFIX))
    digits = raw[len(_OWN_PREFIX) : end]
    if end < 0 or not digits.isdigit() or digits.startswith(b"0"):
        return None
    return int(digits)


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


def compact(path: Path, written: Written | None = None) -> None:
    """Rewrite a regular results file as its header and one record per line, in line order.

    `written`: the file's index as its `ResultLog` kept it (`ResultLog.written`), which
    spares reading the whole file once more to find each line's last record.

    Written to a fresh temporary file beside the real file (never a fixed name that
    could be a planted symlink), then renamed over it: atomic, and a symlinked
    `--output` stays a symlink to the compacted file. The new file keeps the old
    one's permissions, less any write or execute bit for others (never wider).
    Pipes and devices are left alone.
    """
    if not path.exists() or not is_regular(path):
        return
    index = ResultsIndex(path, own=True, written=written)
    try:
        if index.input_name is None:
            return  # empty, or not ours: nothing to compact
        target = Path(os.path.realpath(path))
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(dumps_record(header(index.input_name)).encode() + b"\n")
                for line in index.lines():
                    out.write(_compacted(index, line))
                out.flush()
                os.fchmod(out.fileno(), stat.S_IMODE(target.stat().st_mode) & _KEPT_BITS)
                os.fsync(out.fileno())
            os.replace(tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
    finally:
        index.close()


def _compacted(index: ResultsIndex, line: int) -> bytes:
    """Line `line`'s last record, as the compacted file holds it.

    Copied as it is when it is one whole line of ASCII (as this command writes it), else
    decoded and written again: no character in the file can read as a line break.
    """
    raw = index.raw_bytes(line) or b""
    if raw.endswith(b"\n") and raw.isascii():
        return raw
    return dumps_record(index.raw(line) or {}).encode() + b"\n"


class ResultLog:
    """Appends records to the log, flushing each one; optionally mirrors them to a stream.

    The mirror is for an `--output` that is a pipe or device (`/dev/stdout`): the log
    itself is then a temporary regular file, which the run reads back. The caller owns
    the mirror stream (it may be `sys.stdout`).

    Records are written from more than one thread (intents from the submit workers,
    answers from the consumer), so under a lock; a flush is one `write` call on the file
    descriptor, with no buffered-text layers between.
    """

    def __init__(self, path: Path, input_name: str, mirror: IO[str] | None = None) -> None:
        self.path = path
        self._mirror = mirror
        try:
            fresh = not path.exists() or path.stat().st_size == 0
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, _MODE)
        except OSError as exc:
            where = f"--output: cannot write {str(path)!r}"
            raise UsageError(f"{where}: {exc.strerror or exc}") from None
        self._fd: int | None = fd
        self._lock = threading.Lock()
        self._pending: list[bytes] = []  # records written but not yet flushed, in order
        self._input_name = input_name
        # For a file this log writes from its first byte: its size so far, and where each
        # line's last record starts (`written`). None for a file with records before.
        self._size: int | None = 0 if fresh else None
        self._offsets: array.array[int] = array.array("q")
        if fresh:
            self.write(header(input_name))

    def write(self, record: Record | dict[str, Any], *, flush: bool = True) -> None:
        """Append one record; flush it (and any before it) to the operating system.

        `flush=False` is for records whose loss to a kill is safe: an answer's record
        left unflushed leaves its line `submitting`, which `--resume` never resends.
        The next flushed record (every line's intent record is one) carries it out.
        """
        if isinstance(record, Record):
            line: int | None = record.line
            data = (record.to_line() + "\n").encode()
        else:  # the header, or a record as plain data: indexed as a scan would index it
            number = record.get("line")
            line = number if type(number) is int and number >= 1 else None
            data = (dumps_record(record) + "\n").encode()
        with self._lock:
            size = self._size
            if size is not None:
                if line is not None:
                    _set_offset(self._offsets, line, size)
                self._size = size + len(data)
            self._pending.append(data)
            if flush:
                self._flush()

    def written(self) -> Written | None:
        """(input name, offsets, size) for `ResultsIndex(written=...)`; None if it held records.

        Each `Record`'s line and byte offset is noted as it is written, so a file this
        log wrote whole is indexed (for compaction) without being read again. Also None
        when the file's size is not what was written (records left unflushed by Ctrl-C,
        or appended by someone else): then a scan finds what is really there.
        """
        with self._lock:
            if self._size is None:
                return None
            try:
                if os.stat(self.path).st_size != self._size:
                    return None
            except OSError:
                return None
            return self._input_name, array.array("q", self._offsets), self._size

    def flush(self) -> None:
        """Flush every record written so far (before the log is read back)."""
        with self._lock:
            self._flush()

    def _flush(self) -> None:
        pending = self._pending
        if not pending:
            return
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        pending.clear()
        if self._fd is not None:
            _write_all(self._fd, data)
        if self._mirror is not None:
            self._mirror.write(data.decode())
            self._mirror.flush()

    def close(self) -> None:
        """Flush and close the file (the mirror is flushed; its owner closes it)."""
        with self._lock:
            try:
                self._flush()
            finally:
                if self._fd is not None:
                    os.close(self._fd)
                self._fd = self._mirror = None


def _set_offset(offsets: array.array[int], line: int, offset: int) -> None:
    """`offsets[line] = offset`, growing the array with -1 (no record) as needed.

    Grown by at least an eighth at a time, so lines noted one by one grow it rarely.
    """
    if line >= len(offsets):
        grow = max(line + 1 - len(offsets), len(offsets) // 8)
        offsets.extend([-1] * grow)
    offsets[line] = offset


def _write_all(fd: int, data: bytes) -> None:
    """`os.write` until all of `data` is written (a regular file takes it in one call)."""
    written = os.write(fd, data)
    if written < len(data):  # a pipe or a device may take part of it: write the rest
        view = memoryview(data)[written:]
        while view:
            view = view[os.write(fd, view) :]
