"""The demo's clear step: the backlog ends canceled, the running job done, and it is checked."""

from __future__ import annotations

import json

from together_queue._models import ClearResult, JobStatus
from together_queue.cli.demo import CLEAR_BACKLOG, ClearStep, _check_clear

from .conftest import run_cli


def test_demo_json_reports_the_clear_step() -> None:
    result = run_cli("demo", "--json", url=None)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["clear"] == {
        "model": "demo/video",
        "canceled_count": CLEAR_BACKLOG,
        "backlog": ["canceled"] * CLEAR_BACKLOG,
        "running_job": "done",
    }
    names = [check["name"] for check in report["checks"] if check["ok"]]
    assert any(name.startswith("clear canceled") for name in names)


def _status(status: str) -> JobStatus:
    return JobStatus(request_id="r", model="demo/video", status=status)


def test_clear_check_fails_on_a_wrong_count_or_an_unfinished_running_job() -> None:
    backlog = [_status("canceled")] * CLEAR_BACKLOG
    good = ClearStep(ClearResult("demo/video", CLEAR_BACKLOG), backlog, _status("done"))
    assert _check_clear(good).ok
    short = ClearStep(ClearResult("demo/video", CLEAR_BACKLOG - 1), backlog, _status("done"))
    assert not _check_clear(short).ok
    stopped = ClearStep(ClearResult("demo/video", CLEAR_BACKLOG), backlog, _status("canceled"))
    check = _check_clear(stopped)
    assert not check.ok and "running job ended canceled" in check.detail
