"""Standard input read by `os.read`, line by line, as the buffered reader would split it."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator

import pytest

from together_queue.cli import jsonl


def _lines_through_a_pipe(
    data: bytes, read_size: int, monkeypatch: pytest.MonkeyPatch
) -> list[bytes]:
    monkeypatch.setattr(jsonl, "_READ_SIZE", read_size)
    read, write = os.pipe()
    try:
        os.write(write, data)
        os.close(write)
        write = -1
        lines: Iterator[bytes] = jsonl._fd_lines(read)
        return list(lines)
    finally:
        os.close(read)
        if write >= 0:
            os.close(write)


@pytest.mark.parametrize("read_size", [1, 3, 7, 1 << 16])
@pytest.mark.parametrize(
    "data",
    [
        b"",
        b'{"n": 1}\n',
        b'{"n": 1}\n{"n": 2}\n',
        b'{"n": 1}\r\n\n{"n": 2}',  # CRLF, a blank line, no final line break
        b"\xef\xbb\xbf" + b'{"a": "' + b"x" * 5000 + b'"}\n' + b"\xff\n",  # BOM, long, bad UTF-8
    ],
)
def test_lines_read_from_a_descriptor_are_those_of_the_buffered_reader(
    data: bytes, read_size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Whatever the read size, the lines (and so the line numbers and digests) are those
    # `for line in file` gives.
    assert _lines_through_a_pipe(data, read_size, monkeypatch) == list(io.BytesIO(data))
