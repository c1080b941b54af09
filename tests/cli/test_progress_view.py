"""What the CLI shows about progress: no empty bars, no stale progress of a finished job."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from together_queue.emulator import EmulatorHandle

from .conftest import run_cli
from .fake_server import Answer, Seen, fake_server


def test_a_resume_with_nothing_left_draws_no_bar(emulator: EmulatorHandle, tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text('{"n": 1}\n{"n": 2}\n')
    out = tmp_path / "results.jsonl"
    args = ["submit", "--file", str(jobs), "--model", "echo", "--wait", "--output", str(out)]
    first = run_cli(*args, url=emulator.url)
    assert first.returncode == 0, first.stderr
    assert "2/2" in first.stderr  # the bar is drawn when there is work

    again = run_cli(*args, "--resume", url=emulator.url)
    assert again.returncode == 0, again.stderr
    assert "2 line(s) already submitted are skipped" in again.stderr
    assert "0/0" not in again.stderr
    assert "[" not in again.stderr  # no bar at all


@pytest.mark.parametrize(
    ("status", "shown"),
    [("running", "progress    50%"), ("done", "progress    100%"), ("failed", None)],
)
def test_status_shows_progress_only_as_the_job_stands(status: str, shown: str | None) -> None:
    body = {
        "request_id": "r-1",
        "model": "m",
        "status": status,
        "info": {"progress": 0.5},
    }

    def answer(seen: Seen) -> Answer:
        return Answer(200, json.dumps(body))

    with fake_server(answer) as server:
        result = run_cli("status", "r-1", "--model", "m", url=server.url)
    assert result.returncode == 0, result.stderr
    if shown is None:
        assert "progress" not in result.stdout
    else:
        assert shown in result.stdout
    if status != "running":
        assert "50%" not in result.stdout  # the worker's last report is not the job's state
