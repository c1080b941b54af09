"""Terminal output for the CLI: JSON, tables, colours, and a status line that redraws on a TTY.

Colour only on a terminal and never when `NO_COLOR` is set (https://no-color.org).
When the stream is not a terminal, a live line becomes plain periodic lines.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from together_queue._text import escape_controls

if TYPE_CHECKING:
    from together_queue._models import CancelResult, JobStatus, QueueMetrics

_COLORS = {
    "done": "32",  # green
    "failed": "31",  # red
    "canceled": "33",  # yellow
    "running": "36",  # cyan
    "pending": "2",  # dim
}


def printable(text: object) -> str:
    r"""`text` as a string safe to print: control characters escaped as `\x1b`, `\u202e`.

    Every piece of text the CLI prints that came from a server or a worker (error
    messages, `info.error`, warnings, model names, request ids, outputs, paths built
    from URLs) goes through this, so that none of it can drive the terminal.
    """
    return escape_controls(str(text))


def is_tty(stream: TextIO) -> bool:
    """Whether `stream` is an interactive terminal."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def color_enabled(stream: TextIO) -> bool:
    """Colour on `stream`: a terminal, `NO_COLOR` unset or empty, and `TERM` not `dumb`."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return is_tty(stream)


class Style:
    """ANSI styling that turns itself into plain text when colour is off."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def _wrap(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.enabled and code else text

    def status(self, status: str, width: int = 0) -> str:
        """`status` padded to `width`, coloured by what it means."""
        return self._wrap(_COLORS.get(status, ""), status.ljust(width))

    def bold(self, text: str) -> str:
        """`text` in bold."""
        return self._wrap("1", text)

    def ok(self, text: str) -> str:
        """`text` in green."""
        return self._wrap("32", text)

    def bad(self, text: str) -> str:
        """`text` in red."""
        return self._wrap("31", text)


def emit_json(data: Any, stream: TextIO | None = None) -> None:
    """Write `data` as one line of ASCII JSON and flush (so a pipe sees it at once)."""
    out = stream or sys.stdout
    # ASCII: U+2028 and friends escaped, so no line-splitting reader can break a record.
    out.write(json.dumps(data, ensure_ascii=True, default=_json_default) + "\n")
    out.flush()


def _json_default(value: object) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def metrics_dict(metrics: QueueMetrics) -> dict[str, Any]:
    """Queue metrics as plain JSON data."""
    return {
        "model": metrics.model,
        "messages_waiting": metrics.messages_waiting,
        "messages_running": metrics.messages_running,
        "total_jobs": metrics.total_jobs,
    }


def cancel_dict(result: CancelResult) -> dict[str, Any]:
    """A cancel result as plain JSON data."""
    return {
        "request_id": result.request_id,
        "model": result.model,
        "status": result.status,
        "canceled": result.canceled,
    }


def failure_reason(status: JobStatus) -> str:
    """Why a job failed, as the library reads it (`JobStatus.error`), or `""` if unknown."""
    return status.error or ""


def progress_text(status: JobStatus) -> str:
    """`45%` when the job reports progress, else `""`."""
    progress = status.progress
    return "" if progress is None else f"{progress:.0%}"


def compact_json(value: Any, limit: int = 60) -> str:
    """`value` as one short line of JSON (escaped, see `printable`), cut with `...` past `limit`."""
    text = printable(json.dumps(value, ensure_ascii=False, default=_json_default))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "") -> str:
    """A plain, left-aligned text table (colour codes in cells are not counted as width)."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], _visible_len(cell))
    lines = [indent + "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    for row in rows:
        cells = [c + " " * (w - _visible_len(c)) for c, w in zip(row, widths, strict=True)]
        lines.append(indent + "  ".join(cells).rstrip())
    return "\n".join(line.rstrip() for line in lines)


def _visible_len(text: str) -> int:
    length, i = 0, 0
    while i < len(text):
        if text[i] == "\x1b":
            end = text.find("m", i)
            i = len(text) if end < 0 else end + 1
            continue
        length += 1
        i += 1
    return length


def render_status(status: JobStatus, style: Style) -> str:
    """A job status as `key  value` lines for people (server text escaped, see `printable`).

    Progress is the worker's last report while the job is pending or running. A
    finished job's last report is history, not its state: a done job that reported
    progress shows 100%, a failed or canceled one shows none.
    """
    rows: list[tuple[str, str]] = [
        ("request_id", printable(status.request_id)),
        ("model", printable(status.model)),
        ("status", style.status(printable(status.status))),
    ]
    if status.priority is not None:
        rows.append(("priority", str(status.priority)))
    progress = progress_text(status)
    if progress and status.is_terminal:
        progress = "100%" if status.succeeded else ""
    if progress:
        rows.append(("progress", progress))
    if status.retries:
        rows.append(("retries", str(status.retries)))
    for name, moment in (
        ("created_at", status.created_at),
        ("claimed_at", status.claimed_at),
        ("done_at", status.done_at),
    ):
        if moment is not None:
            rows.append((name, moment.isoformat()))
    if status.outputs is not None:
        rows.append(("outputs", printable(json.dumps(status.outputs, ensure_ascii=False))))
    reason = failure_reason(status)
    if reason and status.status in ("failed", "canceled"):
        rows.append(("error", printable(reason)))
    for warning in status.warnings:
        rows.append(("warning", printable(warning)))
    width = max(len(key) for key, _ in rows)
    return "\n".join(f"{key.ljust(width)}  {value}" for key, value in rows)


def render_metrics(metrics: QueueMetrics) -> str:
    """Queue metrics as one line for people."""
    return (
        f"{printable(metrics.model)}: waiting {metrics.messages_waiting}, "
        f"running {metrics.messages_running}, total {metrics.total_jobs}"
    )


def format_ranges(numbers: Sequence[int]) -> str:
    """`1-3, 7, 9-10` for [1, 2, 3, 7, 9, 10]."""
    parts: list[str] = []
    ordered = sorted(set(numbers))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ", ".join(parts)


class LiveLine:
    """One status line on stderr: redrawn in place on a terminal, periodic lines otherwise.

    `update(text)` shows the latest text: at most `tty_hz` times a second on a
    terminal; off a terminal, a line every `period` seconds (or when `force`).
    `message(text)` prints a permanent line above the live one.
    """

    def __init__(
        self, stream: TextIO | None = None, *, period: float = 2.0, tty_hz: float = 10.0
    ) -> None:
        self.stream = stream or sys.stderr
        self.tty = is_tty(self.stream)
        self.period = period
        self._min_gap = 1.0 / tty_hz
        self._last_draw = float("-inf")
        self._shown = ""  # what is on the live line now (terminal only)
        self._latest = ""
        self._printed = ""  # the last periodic line printed (non-terminal)

    def due(self) -> bool:
        """Whether an `update` now would be drawn (the throttle's gap has passed)."""
        gap = self._min_gap if self.tty else self.period
        return time.monotonic() - self._last_draw >= gap

    def update(self, text: str, *, force: bool = False) -> None:
        """Show `text` as the current state (throttled unless `force`)."""
        self._latest = text
        now = time.monotonic()
        gap = self._min_gap if self.tty else self.period
        if not force and now - self._last_draw < gap:
            return
        self._last_draw = now
        if self.tty:
            self._draw(text)
        elif text != self._printed:
            self._printed = text
            self._write(text + "\n")

    def message(self, text: str) -> None:
        """Print `text` on its own line, keeping the live line below it."""
        if self.tty and self._shown:
            self._write("\r\x1b[2K" + text + "\n" + self._shown)
        else:
            self._write(text + "\n")

    def close(self) -> None:
        """Leave the last state on screen (or print it once more, if it changed)."""
        if self.tty:
            if self._latest != self._shown:
                self._draw(self._latest)
            if self._shown:
                self._write("\n")
            self._shown = ""
        elif self._latest and self._latest != self._printed:
            self._printed = self._latest
            self._write(self._latest + "\n")

    def _draw(self, text: str) -> None:
        self._shown = text
        self._write("\r\x1b[2K" + text)

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


def progress_bar(done: int, total: int, width: int = 24) -> str:
    """`[#########---------------]` for done/total."""
    filled = width if total <= 0 else min(width, round(width * done / total))
    return "[" + "#" * filled + "-" * (width - filled) + "]"


class LineRanges:
    """Line numbers added in ascending order, kept as runs: memory follows the gaps, not the count.

    Shown like `format_ranges`, with at most `shown` runs (then `...`).
    """

    def __init__(self) -> None:
        self.count = 0
        self._runs: list[list[int]] = []

    def add(self, number: int) -> None:
        """Add `number` (not smaller than any added before)."""
        self.count += 1
        if self._runs and self._runs[-1][1] + 1 >= number:
            self._runs[-1][1] = max(self._runs[-1][1], number)
        else:
            self._runs.append([number, number])

    def __bool__(self) -> bool:
        return self.count > 0

    def text(self, shown: int = 20) -> str:
        """`1-3, 7, 9-10` (cut after `shown` runs)."""
        parts = [str(a) if a == b else f"{a}-{b}" for a, b in self._runs[:shown]]
        if len(self._runs) > shown:
            parts.append("...")
        return ", ".join(parts)
