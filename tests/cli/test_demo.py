"""`together-queue demo`: the README's first command runs, shows the queue, and checks it."""

from __future__ import annotations

import json
import re
import time

from .conftest import run_cli


def test_demo_json_reports_priority_order_and_passing_checks() -> None:
    started = time.monotonic()
    result = run_cli("demo", "--json", url=None)
    assert time.monotonic() - started < 30
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["emulator"].startswith("http://127.0.0.1:")
    assert all(check["ok"] for check in report["checks"])
    # The demo's own expectation, restated: warm-up first, then priority, then FIFO.
    assert report["processing_order"] == [
        "warm-up", "urgent-1", "urgent-2", "normal-1", "normal-2", "backfill",
    ]  # fmt: skip
    statuses = {job["name"]: job["status"] for job in report["jobs"]}
    assert (statuses["stale"], statuses["broken"], statuses["echo"]) == (
        "canceled",
        "failed",
        "done",
    )
    assert report["metrics_while_busy"]["messages_waiting"] == 5


def test_demo_for_people_shows_order_results_and_metrics() -> None:
    result = run_cli("demo", url=None)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for heading in ("submitted 9 jobs", "processing order", "results:", "metrics", "checks:"):
        assert heading in out
    assert "all checks passed" in out
    assert re.search(r"warm-up +running \d+%", out)  # live progress, as plain lines
    assert "\x1b[" not in out  # not a terminal (and NO_COLOR): no escape codes
