"""The per-line bookkeeping of a bulk submit, made cheap without losing what it is for.

The results log is written from the submit threads (intents) and the consumer
(answers) at once; compaction copies the run's own records as they are but re-encodes
anything else; the progress line is built a few times a second yet ends up to date.
"""

from __future__ import annotations

import io
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from together_queue.cli import output
from together_queue.cli.bulk_view import BulkView
from together_queue.cli.records import Record
from together_queue.cli.results import ResultLog, ResultsIndex, compact

RECORDS_PER_THREAD = 2000


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="ascii").splitlines()]


def test_records_written_from_two_threads_are_all_kept_whole_and_in_order(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    log = ResultLog(path, "jobs.jsonl")
    start = threading.Barrier(2)

    def write(first: int, flush: bool) -> None:
        start.wait(timeout=10)
        for n in range(first, first + RECORDS_PER_THREAD):
            log.write(Record(n, "submitting" if flush else "submitted"), flush=flush)

    # One thread flushes each record (the intents), the other leaves them to it (answers).
    threads = [
        threading.Thread(target=write, args=(1, True)),
        threading.Thread(target=write, args=(1 + RECORDS_PER_THREAD, False)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive()
    log.close()
    records = _lines(path)
    assert records[0] == {"together_queue_results": 1, "input": "jobs.jsonl"}
    lines = [record["line"] for record in records[1:]]
    assert sorted(lines) == list(range(1, 1 + 2 * RECORDS_PER_THREAD))
    for first in (1, 1 + RECORDS_PER_THREAD):  # each thread's records in its own order
        own = [n for n in lines if first <= n < first + RECORDS_PER_THREAD]
        assert own == list(range(first, first + RECORDS_PER_THREAD))


@pytest.mark.parametrize(
    "record",
    [
        Record(1, "submitting"),
        Record(7, "submitting", digest="0123abcd", model="m"),
        Record(12, "submitted", digest="d", model="org/Model-1", request_id="req-1"),
        Record(3, "done", request_id="r", outputs={"t": 'h\u00e9llo "q"\n', "n": [1, 2.5, None]}),
        Record(4, "failed", model="m", request_id="r", outputs=[], error="boom: \u2603 \x00 \\"),
        Record(5, "invalid", digest="x", error='not valid JSON ("\ud800")'),
        Record(6, "done", outputs=0),
        Record(8, "done", outputs=""),
    ],
)
def test_a_records_line_is_exactly_its_ascii_json(record: Record) -> None:
    # The fast writer must say what json.dumps says, byte for byte: compaction copies it as
    # it is, and `--resume` reads it back.
    line = record.to_line()
    assert line == json.dumps(record.to_json(), ensure_ascii=True)
    assert line.isascii()
    assert json.loads(line) == record.to_json()


def test_an_unflushed_record_reaches_the_file_with_the_next_flushed_one(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    log = ResultLog(path, "jobs.jsonl")
    log.write(Record(1, "submitted", request_id="r-1"), flush=False)
    assert len(path.read_bytes().splitlines()) == 1  # the header only, so far
    log.write(Record(2, "submitting"))
    assert [r.get("line") for r in _lines(path)] == [None, 1, 2]
    log.close()


def test_a_short_write_is_finished_by_further_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A pipe or a signal can take part of a flush; the rest must follow, in order.
    real_write = os.write
    calls: list[int] = []

    def trickle(fd: int, data: bytes | memoryview) -> int:
        calls.append(len(data))
        return real_write(fd, bytes(data[:7]))

    path = tmp_path / "results.jsonl"
    log = ResultLog(path, "jobs.jsonl")
    monkeypatch.setattr(os, "write", trickle)  # the module the log writes with
    log.write(Record(1, "submitted", "d1", "m", "r-1", error="caf\u00e9"), flush=False)
    log.write(Record(2, "submitting", "d2", "m"))
    monkeypatch.undo()
    log.close()
    assert len(calls) > 2
    assert [(r.get("line"), r.get("error")) for r in _lines(path)] == [
        (None, None),
        (1, "caf\u00e9"),
        (2, None),
    ]
    assert log.written() is not None  # every byte the log counted is in the file


def test_compaction_copies_the_runs_own_records_and_reencodes_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    header = '{"together_queue_results": 1, "input": "jobs.jsonl"}\n'
    own = '{"line": 2, "digest": "d2", "status": "submitted", "request_id": "r-2"}\n'
    # A record edited by hand: raw UTF-8, keys in another order, a U+2028 in a string.
    edited = '{"status": "error", "line": 1, "error": "caf\u00e9 \u2028 down"}\n'
    path.write_bytes((header + edited + own).encode("utf-8"))
    compact(path)
    raw = path.read_bytes()
    assert raw.isascii()  # nothing in the file can read as a line break
    lines = raw.decode("ascii").splitlines(keepends=True)
    assert lines[2] == own  # copied byte for byte
    assert json.loads(lines[1]) == {"status": "error", "line": 1, "error": "caf\u00e9 \u2028 down"}


def test_an_index_of_the_runs_own_log_sees_the_same_lines_as_a_full_decode(
    tmp_path: Path,
) -> None:
    path = tmp_path / "results.jsonl"
    log = ResultLog(path, "jobs.jsonl")
    for n in (3, 1, 2, 3, 10):
        log.write(Record(n, "submitting", digest=f"d{n}"))
    log.write({"line": 4, "status": "error"})  # written with a dict: still `{"line": ...`
    log.close()
    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"status": "done", "line": 2}\n')  # another form: decoded
    fast, full = ResultsIndex(path, own=True), ResultsIndex(path)
    try:
        assert list(fast.lines()) == list(full.lines()) == [1, 2, 3, 4, 10]
        for line in (1, 2, 3, 4, 10):
            assert fast.raw(line) == full.raw(line)
        assert fast.raw(2) == {"status": "done", "line": 2}
    finally:
        fast.close()
        full.close()


def test_a_log_compacts_what_it_wrote_whole_as_a_scan_of_the_file_would(tmp_path: Path) -> None:
    # The log notes each record's offset as it writes: compaction then reads no index.
    path, copy = tmp_path / "results.jsonl", tmp_path / "copy.jsonl"
    log = ResultLog(path, "jobs ü.jsonl")  # a non-ASCII name: the header is longer in bytes
    for n in (3, 1, 2, 3, 10, 2):
        log.write(Record(n, "submitting", digest=f"d{n}", model="m"), flush=n != 2)
    log.write(Record(1, "error", error="caf\u00e9 \u2028 down"))  # non-ASCII, escaped
    log.write({"line": 4, "status": "error", "error": "\u00fc"})  # written as plain data
    log.write(Record(10, "submitted", digest="d10", model="m", request_id="r-10"), flush=False)
    log.close()
    written = log.written()
    assert written is not None
    copy.write_bytes(path.read_bytes())
    compact(path, written)
    compact(copy)  # by a scan
    assert path.read_bytes() == copy.read_bytes()
    assert [json.loads(line).get("line") for line in path.read_text().splitlines()] == [
        None,  # the header
        1,
        2,
        3,
        4,
        10,
    ]


def test_records_the_file_does_not_hold_leave_compaction_to_a_scan(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    log = ResultLog(path, "jobs.jsonl")
    log.write(Record(1, "submitting", digest="d1", model="m"))
    log.write(Record(1, "submitted", digest="d1", model="m", request_id="r-1"), flush=False)
    assert log.written() is None  # the answer is not in the file yet (a Ctrl-C now loses it)
    log.flush()
    assert log.written() is not None
    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"line": 2, "status": "submitted", "request_id": "r-2"}\n')
    assert log.written() is None  # someone else appended
    log.close()


def test_a_log_of_a_file_with_records_before_it_leaves_compaction_to_a_scan(
    tmp_path: Path,
) -> None:
    path = tmp_path / "results.jsonl"
    first = ResultLog(path, "jobs.jsonl")
    first.write(Record(1, "submitted", request_id="r-1"))
    first.close()
    assert first.written() is not None
    again = ResultLog(path, "jobs.jsonl")  # a resumed run appends
    again.write(Record(2, "submitted", request_id="r-2"))
    again.close()
    assert again.written() is None
    compact(path, again.written())
    assert [json.loads(line).get("line") for line in path.read_text().splitlines()] == [
        None,
        1,
        2,
    ]


def test_the_progress_line_is_built_when_due_and_closes_on_the_latest_counts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])  # the clock the throttle reads
    stream = io.StringIO()
    view = BulkView(json_mode=False, records_on_stdout=False, wait=False, output=None, total=50)
    view.live = output.LiveLine(stream, period=2.0)
    for n in range(1, 51):
        now[0] += 0.01  # 50 lines in 0.5 s: within one period
        view.submitted(Record(n, "submitted", request_id=f"r-{n}"), final=True)
    shown = stream.getvalue().splitlines()
    assert len(shown) == 1 and "1/50 lines" in shown[0]  # the first draw only
    view.close()
    assert stream.getvalue().splitlines()[-1].endswith("50/50 lines  submitted 50")
