"""What `together-queue demo` prints: a live board on a terminal, event lines otherwise, a report.

With `--json`, nothing is printed until the end, then one JSON object.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from together_queue.cli.output import (
    Style,
    color_enabled,
    compact_json,
    emit_json,
    failure_reason,
    is_tty,
    metrics_dict,
    printable,
    progress_bar,
    render_table,
)

if TYPE_CHECKING:
    from together_queue._models import QueueMetrics
    from together_queue.cli.demo import Check, ClearStep, Tracked


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


class DemoView:
    """Prints the demo for people (or, with `json_mode`, only the final JSON report)."""

    def __init__(self, *, json_mode: bool) -> None:
        self.json_mode = json_mode
        self.out = sys.stdout
        self.tty = is_tty(self.out)
        self.style = Style(color_enabled(self.out))
        self.started = time.monotonic()
        self._board_lines = 0
        self._last_draw = 0.0
        self._seen: dict[str, tuple[str, str]] = {}  # job name -> (status, progress) printed
        self._url = ""

    def _print(self, text: str = "") -> None:
        if not self.json_mode:
            self.out.write(text + "\n")
            self.out.flush()

    def intro(self, url: str, models: Mapping[str, str], workers: int) -> None:
        """Where the emulator runs and what it serves."""
        self._url = url
        self._print(self.style.bold("together-queue demo") + " (no API key, no network)")
        self._print(f"emulator on {url}, {workers} worker per model:")
        for model, handler in models.items():
            self._print(f"  {model:<11} {handler}")
        self._print()

    def note(self, text: str) -> None:
        """One line of narration."""
        self._print(text)

    def submitted(self, tracked: Sequence[Tracked]) -> None:
        """The jobs in the order they were submitted."""
        rows = [
            [str(t.index + 1), t.spec.name, t.spec.model, str(t.spec.priority), t.job.request_id]
            for t in tracked
        ]
        for t in tracked:  # the live view prints changes from here on
            self._seen[t.spec.name] = ("running" if t.index == 0 else "pending", "")
        self._print(f"submitted {len(tracked)} jobs, in this order:")
        self._print(render_table(["#", "job", "model", "priority", "request id"], rows, "  "))
        self._print()

    # -- live ------------------------------------------------------------------------

    def live(self, tracked: Sequence[Tracked], *, force: bool = False) -> None:
        """Show the jobs' current state: redraw the board, or print what changed."""
        if self.json_mode:
            return
        if self.tty:
            now = time.monotonic()
            if force or now - self._last_draw >= 0.1:
                self._last_draw = now
                self._draw_board(tracked)
            return
        for t in tracked:
            state = self._state(t)
            if state[0] and self._seen.get(t.spec.name, ("", "")) != state:
                self._seen[t.spec.name] = state
                elapsed = time.monotonic() - self.started
                progress = f" {state[1]}" if state[1] else ""
                self._print(f"  +{elapsed:4.1f}s  {t.spec.name:<9} {state[0]}{progress}")

    def live_done(self, tracked: Sequence[Tracked]) -> None:
        """The final state of the board."""
        self.live(tracked, force=True)
        self._print()

    @staticmethod
    def _state(t: Tracked) -> tuple[str, str]:
        if t.status is None:
            return ("", "")
        progress = t.status.progress
        shown = "" if progress is None or t.status.status != "running" else f"{progress:.0%}"
        return (t.status.status, shown)

    def _draw_board(self, tracked: Sequence[Tracked]) -> None:
        lines = []
        for t in tracked:
            status = t.status.status if t.status else self._seen.get(t.spec.name, ("?", ""))[0]
            progress = t.status.progress if t.status else None
            bar = ""
            if progress is not None and status in ("running", "done"):
                bar = f"{progress_bar(round(progress * 100), 100, width=16)} {progress:4.0%}"
            lines.append(
                f"  {t.spec.name:<9} {t.spec.model:<11} p{t.spec.priority:<3} "
                f"{self.style.status(status, 9)} {bar}"
            )
        up = f"\x1b[{self._board_lines}F" if self._board_lines else ""
        self.out.write(up + "".join(f"\x1b[2K{line}\n" for line in lines))
        self.out.flush()
        self._board_lines = len(lines)

    # -- report ----------------------------------------------------------------------

    def report(
        self,
        tracked: Sequence[Tracked],
        order: Sequence[Tracked],
        metrics: Sequence[QueueMetrics],
        checks: Sequence[Check],
        seconds: float,
        *,
        cleared: ClearStep | None = None,
    ) -> None:
        """The processing order, the results, the clear step, the metrics and the checks.

        `metrics` holds the snapshot taken while the queue was busy, then the final ones.
        """
        ok = all(c.ok for c in checks)
        if self.json_mode:
            report = self._json(tracked, order, metrics, checks, seconds, ok)
            if cleared is not None:
                report["clear"] = {
                    "model": cleared.result.model,
                    "canceled_count": cleared.result.canceled_count,
                    "backlog": [s.status for s in cleared.backlog],
                    "running_job": cleared.running.status,
                }
            emit_json(report)
            return
        self._print(self.style.bold("processing order on demo/video") + " (from claimed_at):")
        for position, t in enumerate(order, start=1):
            self._print(
                f"  {position}. {t.spec.name:<9} priority {t.spec.priority:<3} "
                f"submitted {_ordinal(t.index + 1)}"
            )
        self._print()
        self._print(self.style.bold("results:"))
        rows = [self._result_row(t) for t in tracked]
        self._print(
            render_table(["job", "model", "priority", "status", "outputs / error"], rows, "  ")
        )
        self._print()
        if cleared is not None:
            self._print(
                self.style.bold("clear:")
                + f" {cleared.result.canceled_count} pending job(s) of {cleared.result.model} "
                f"canceled; the running one ended {cleared.running.status}"
            )
            self._print()
        self._print(self.style.bold("metrics") + " (total = waiting + running):")
        rows = [
            [
                "while busy" if i == 0 else "at the end",
                m.model,
                str(m.messages_waiting),
                str(m.messages_running),
                str(m.total_jobs),
            ]
            for i, m in enumerate(metrics)
        ]
        self._print(render_table(["when", "model", "waiting", "running", "total"], rows, "  "))
        self._print()
        self._print(self.style.bold("checks:"))
        for c in checks:
            mark = self.style.ok("ok  ") if c.ok else self.style.bad("FAIL")
            self._print(f"  {mark} {c.name}" + ("" if c.ok else f": {c.detail}"))
        verdict = self.style.ok("all checks passed") if ok else self.style.bad("a check FAILED")
        self._print(f"\n{verdict} in {seconds:.1f} s")

    def _result_row(self, t: Tracked) -> list[str]:
        status = t.status
        if status is None:
            return [t.spec.name, t.spec.model, str(t.spec.priority), "?", ""]
        detail = printable(failure_reason(status)) if status.status != "done" else ""
        if status.outputs is not None:
            detail = compact_json(status.outputs, 50)
        return [
            t.spec.name,
            t.spec.model,
            str(t.spec.priority),
            self.style.status(status.status),
            detail,
        ]

    def _json(
        self,
        tracked: Sequence[Tracked],
        order: Sequence[Tracked],
        metrics: Sequence[QueueMetrics],
        checks: Sequence[Check],
        seconds: float,
        ok: bool,
    ) -> dict[str, Any]:
        return {
            "ok": ok,
            "emulator": self._url,
            "seconds": round(seconds, 3),
            "jobs": [
                {
                    "name": t.spec.name,
                    "submitted": t.index + 1,
                    **(t.status.to_dict() if t.status else {"request_id": t.job.request_id}),
                }
                for t in tracked
            ],
            "processing_order": [t.spec.name for t in order],
            "metrics_while_busy": metrics_dict(metrics[0]),
            "metrics": [metrics_dict(m) for m in metrics[1:]],
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checks],
        }
