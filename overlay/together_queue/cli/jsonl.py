"""Reading a bulk-submit input file: one JSON object per line, a payload or a full request.

A line with a `"payload"` key is a *full request*: its `payload` must be an object
and its other keys only `model`, `priority` and `info`; any other key makes it an
invalid line that names the key (a typo such as `priorty` is never sent as part of
a payload). Any object without `"payload"` is a *payload* for `--model`. (A payload
that itself has a `payload` key is written wrapped: `{"payload": {"payload": ...}}`.)
A line's own `model`, `priority` and `info` win over the command-line defaults.
Blank lines are skipped and get no record; line numbers count every physical line
from 1. The file `-` is standard input. Each line carries a digest of its bytes,
which the results file records so that `--resume` can prove it has the same input.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, NamedTuple, cast

from together_queue._json import reject_constant
from together_queue.cli.common import UsageError, json_type

_DECODER: Final = json.JSONDecoder(parse_constant=reject_constant)
"""Strict JSON (no NaN or Infinity), built once: `json.loads` with an option builds one a call."""
# Set by `JSONDecoder.__init__` (the C scanner when there is one); typeshed leaves it out.
_SCAN: Final[Callable[[str, int], tuple[Any, int]]] = _DECODER.scan_once  # type: ignore[attr-defined]
"""The decoder's scanner: `(value, end)` of the JSON text starting at an index."""
_JSON_SPACE: Final = " \t\n\r"
"""What JSON counts as whitespace around a value (`str.strip()` alone strips more)."""

REQUEST_KEYS: Final = frozenset({"model", "payload", "priority", "info"})
_READ_SIZE: Final = 1 << 16
"""Bytes asked of standard input per read."""


class Request(NamedTuple):
    """One job to submit, built from one input line (a named tuple: one is made a line)."""

    model: str
    payload: dict[str, Any]
    priority: int
    info: dict[str, Any] | None


class InputLine(NamedTuple):
    """One non-blank input line: its number and either a request or why it is bad."""

    line: int
    request: Request | None = None
    error: str | None = None
    digest: str = ""


@dataclass(frozen=True)
class Defaults:
    """Command-line values for what a line does not say itself."""

    model: str | None
    priority: int
    info: dict[str, Any] | None

    @functools.cached_property
    def problem(self) -> str | None:
        """What is wrong with a payload line, which takes all but its payload from here."""
        return _problem(self.model, self.priority, self.info)


def is_full_request(data: Mapping[str, Any]) -> bool:
    """Whether a decoded line is a full request (see the module docstring)."""
    return "payload" in data


def digest(raw: bytes) -> str:
    """A short fingerprint of one input line's bytes (line break excluded)."""
    return hashlib.blake2b(raw.rstrip(b"\r\n"), digest_size=8).hexdigest()


def parse_line(text: str, line: int, defaults: Defaults, fingerprint: str = "") -> InputLine:
    """Decode and check one line; a problem becomes `InputLine.error`, never an exception."""
    try:
        data = _decode(text)
    except ValueError as exc:
        return InputLine(line, error=f"not valid JSON ({exc})", digest=fingerprint)
    request = _request(data, defaults)
    if isinstance(request, str):
        return InputLine(line, error=request, digest=fingerprint)
    return InputLine(line, request, digest=fingerprint)


def _decode(text: str) -> Any:
    """`_DECODER.decode(text)`, with one call into the scanner for a line that decodes.

    `decode` takes three Python calls and two whitespace matches around the scanner;
    with a line of small JSON that is most of its time. Anything the one call does not
    take whole is decoded again by `decode` itself, which raises its own error.
    """
    body = text.strip(_JSON_SPACE)
    try:
        data, end = _SCAN(body, 0)
    except (StopIteration, ValueError):
        pass
    else:
        if end == len(body):
            return data
    return _DECODER.decode(text)


def _request(data: Any, defaults: Defaults) -> Request | str:
    """The request a decoded line makes, or what is wrong with it."""
    if not isinstance(data, dict):
        return f"expected a JSON object, got {json_type(data)}"
    if not is_full_request(data):  # a payload: the rest from the command line, checked once
        problem = defaults.problem
        if problem is not None:
            return problem
        return Request(cast(str, defaults.model), data, defaults.priority, defaults.info)
    unknown = sorted(set(data) - REQUEST_KEYS)
    if unknown:
        names = ", ".join(json.dumps(key) for key in unknown)
        return (
            f'unknown key {names} in a full request (a line with "payload" may only '
            'have "model", "payload", "priority" and "info")'
        )
    payload = data["payload"]
    if not isinstance(payload, dict):
        return f'"payload" must be an object, got {json_type(payload)}'
    model = data.get("model", defaults.model)
    priority = data.get("priority", defaults.priority)
    info = data.get("info", defaults.info)
    problem = _problem(model, priority, info)
    if problem is not None:
        return problem
    return Request(cast(str, model), payload, priority, info)


def _problem(model: Any, priority: Any, info: Any) -> str | None:
    """What is wrong with a line's model, priority or info; None when all three are usable."""
    if model is None:
        return 'no model: pass --model or give "model" on the line'
    if not isinstance(model, str) or not model.strip():
        return '"model" must be a non-empty string'
    if isinstance(priority, bool) or not isinstance(priority, int):
        return f'"priority" must be an integer, got {json_type(priority)}'
    if info is not None and not isinstance(info, dict):
        return f'"info" must be an object, got {json_type(info)}'
    return None


def check_readable(path: Path | str) -> None:
    """`UsageError` unless the input `path` (`-`: stdin) can be opened for reading.

    Checked before anything is created: a missing input leaves no results file behind.
    """
    if str(path) == "-":
        return
    try:
        Path(path).open("rb").close()
    except OSError as exc:
        raise UsageError(f"--file: cannot read {str(path)!r}: {exc.strerror or exc}") from None


def read_input(path: Path | str, defaults: Defaults) -> Iterator[InputLine]:
    """Every non-blank line of `path` (`-`: stdin), parsed; `UsageError` if it cannot be read."""
    if str(path) == "-":
        yield from _parse_lines(_fd_lines(sys.stdin.fileno()), defaults)
        return
    try:
        handle = Path(path).open("rb")  # noqa: SIM115 - closed by the `with` below
    except OSError as exc:
        raise UsageError(f"--file: cannot read {str(path)!r}: {exc.strerror or exc}") from None
    with handle:
        yield from _parse_lines(handle, defaults)


def _fd_lines(fd: int) -> Iterator[bytes]:
    """The lines of `fd` (each with its line break, the last one maybe without), by `os.read`.

    Not through `sys.stdin.buffer`: a submit thread that waits there for a writer's next
    line holds the buffered reader's lock, and a process that exits meanwhile (Ctrl-C)
    aborts with "could not acquire lock for <stdin> at interpreter shutdown".
    """
    pending: list[bytes] = []  # the start of a line not yet ended (linear in a long line)
    while chunk := os.read(fd, _READ_SIZE):
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            pending.append(chunk[start : end + 1])
            yield b"".join(pending)
            pending.clear()
            start = end + 1
        if start < len(chunk):
            pending.append(chunk[start:])
    if pending:
        yield b"".join(pending)


def _parse_lines(handle: Iterable[bytes], defaults: Defaults) -> Iterator[InputLine]:
    # Bytes, decoded line by line: one line of bad UTF-8 is one bad line, not a bad file.
    for number, raw in enumerate(handle, start=1):
        if number == 1:
            raw = raw.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte order mark
        fingerprint = digest(raw)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield InputLine(number, error=f"not UTF-8 text ({exc.reason})", digest=fingerprint)
            continue
        if text.strip():
            yield parse_line(text, number, defaults, fingerprint)
