"""Bulk submit from a JSON Lines file: bad lines, results file, --json, Ctrl-C and --resume."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from together_queue.cli.jsonl import digest
from together_queue.emulator import EmulatorHandle, start_emulator

from .conftest import CLI, RUN_TIMEOUT, cli_env, emulator_jobs, read_records_lenient, run_cli

# Line numbers are physical lines, blank ones included.
JOBS = [
    '{"n": 1}',  # 1: a payload for --model
    "not json",  # 2: bad
    "[1, 2]",  # 3: not an object
    "",  # 4: blank, skipped
    '{"payload": {"n": 5}, "priority": 7, "info": {"k": "v"}}',  # 5: a full request
    '{"payload": {"n": 6}, "priority": "high"}',  # 6: bad priority
    '{"model": "fail", "payload": {"message": "line 7 fails"}}',  # 7: its own model
    '{"payload": {"n": 8}, "extra": 1}',  # 8: a full request with an unknown key: invalid
    '{"n": NaN}',  # 9: not JSON the API accepts
]


def read_records(path: Path) -> list[dict[str, Any]]:
    """The line records of a results file (its header left out)."""
    records = [json.loads(line) for line in path.read_text().splitlines()]
    return [r for r in records if "line" in r]


def test_bad_lines_are_reported_and_do_not_stop_the_others(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("\n".join(JOBS) + "\n")
    out = tmp_path / "results.jsonl"
    result = run_cli(
        "--json", "submit", "--file", str(jobs), "--model", "echo", "--wait", "--output", str(out),
        url=emulator.url,
    )  # fmt: skip
    assert result.returncode == 2  # the worst line decides: a bad line is a usage error

    stdout = {r["line"]: r for r in map(json.loads, result.stdout.splitlines())}
    records = {r["line"]: r for r in read_records(out)}
    assert records == stdout  # the file, compacted, holds each line's final record
    assert sorted(records) == [1, 2, 3, 5, 6, 7, 8, 9]
    assert {n for n, r in records.items() if r["status"] == "invalid"} == {2, 3, 6, 8, 9}
    for n in (2, 3, 6, 8, 9):
        assert f"line {n}: " in result.stderr
    assert "priority" in records[6]["error"]
    assert records[1]["outputs"] == {"n": 1}
    assert records[5]["outputs"] == {"n": 5}
    assert 'unknown key "extra"' in records[8]["error"]  # named, not sent
    assert (records[7]["status"], records[7]["error"]) == ("failed", "line 7 fails")

    by_id = {job["request_id"]: job for job in emulator_jobs(emulator, "echo")}
    assert (
        by_id[records[5]["request_id"]]["priority"],
        by_id[records[5]["request_id"]]["info"],
    ) == (
        7,
        {"k": "v", "together_queue": {"line": 5, "file": "jobs.jsonl"}},  # stamped for reconciling
    )
    fails = [
        j for j in emulator_jobs(emulator, "fail") if j["request_id"] == records[7]["request_id"]
    ]
    assert len(fails) == 1


def test_plain_output_is_a_table_and_periodic_progress(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text('{"n": 1}\n{"n": 2}\n')
    result = run_cli("submit", "--file", str(jobs), "--model", "echo", "--wait", url=emulator.url)
    assert result.returncode == 0, result.stderr
    rows = result.stdout.splitlines()
    assert rows[0].split() == ["line", "request_id", "status", "outputs", "/", "error"]
    assert [row.split()[2] for row in rows[1:3]] == ["done", "done"]
    assert rows[-1] == "2 submitted, 2 done"
    assert "2/2 finished" in result.stderr  # non-TTY progress: plain lines, no redraws
    assert "\r" not in result.stderr


def test_an_existing_output_needs_resume(emulator: EmulatorHandle, tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text('{"n": 1}\n')
    out = tmp_path / "results.jsonl"
    out.write_text('{"line": 1, "request_id": "x", "status": "submitted"}\n')
    result = run_cli(
        "submit", "--file", str(jobs), "--model", "echo", "--output", str(out), url=emulator.url
    )
    assert result.returncode == 2
    assert "--resume" in result.stderr
    assert emulator_jobs(emulator, "never-used") == []


def _wait_for_records(path: Path, count: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if path.exists():
            submitted = [r for r in read_records_lenient(path) if r.get("request_id")]
            if len(submitted) >= count:
                return
        assert process.poll() is None, "the run ended before it could be interrupted"
        time.sleep(0.01)
    raise AssertionError(f"{path} did not get {count} submitted records in time")


def test_resume_after_ctrl_c_submits_every_line_exactly_once(tmp_path: Path) -> None:
    total = 30
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("".join(json.dumps({"n": n}) + "\n" for n in range(1, total + 1)))
    out = tmp_path / "results.jsonl"
    model = "resumable"  # no handler: jobs stay pending, so nothing but submits happens
    # Slow submits (0.1 s each, 2 at a time): the run is surely still going when interrupted.
    with start_emulator(models={}, faults=_latency()) as slow:
        args = ["submit", "--file", str(jobs), "--model", model, "--concurrency", "2"]
        process = subprocess.Popen(
            [*CLI, *args, "--output", str(out)],
            env=cli_env(slow.url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            _wait_for_records(out, 4, process)
            process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=RUN_TIMEOUT)
        finally:
            if process.poll() is None:
                process.kill()
        assert process.returncode == 130, stderr
        assert "line(s) submitted in this run" in stderr
        assert "resume with: together-queue submit" in stderr
        first = {r["line"]: r for r in read_records(out)}
        done_first = {n for n, r in first.items() if r.get("request_id")}
        assert 4 <= len(done_first) < total
        assert all(r["status"] == "submitted" for r in first.values())  # in-flight ones drained

        resumed = run_cli(*args, "--output", str(out), "--resume", url=slow.url)
        assert resumed.returncode == 0, resumed.stderr
        assert f"{len(done_first)} line(s) already submitted are skipped" in resumed.stderr

        records = read_records(out)
        assert [r["line"] for r in records] == list(range(1, total + 1))
        assert all(r["status"] == "submitted" for r in records)
        on_service = emulator_jobs(slow, model)
        payloads = sorted(job["payload"]["n"] for job in on_service)
        assert payloads == list(range(1, total + 1))  # every line once: none lost, none twice
        ids = {job["payload"]["n"]: job["request_id"] for job in on_service}
        assert all(ids[r["line"]] == r["request_id"] for r in records)


def _latency() -> Any:
    from together_queue.emulator import FaultPlan

    return FaultPlan.parse(["submit:latency:1:seconds=0.1"])


def test_resume_never_resends_a_line_whose_submit_may_have_happened(
    emulator: EmulatorHandle, tmp_path: Path, model: str
) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text('{"n": 1}\n{"n": 2}\n{"n": 3}\n')
    out = tmp_path / "results.jsonl"
    # As a kill leaves it: line 1 submitted, line 2 sent with no answer recorded, then a
    # record cut short mid-write.
    d1, d2 = digest(b'{"n": 1}'), digest(b'{"n": 2}')
    out.write_text(
        '{"together_queue_results": 1, "input": "jobs.jsonl"}\n'
        f'{{"line": 1, "digest": "{d1}", "model": "m", "status": "submitting"}}\n'
        f'{{"line": 1, "digest": "{d1}", "model": "m", "request_id": "r-1", '
        '"status": "submitted"}\n'
        f'{{"line": 2, "digest": "{d2}", "model": "m", "status": "submitting"}}\n'
        '{"line": 3, "model": "m", "sta'
    )
    result = run_cli(
        "submit", "--file", str(jobs), "--model", model, "--output", str(out), "--resume",
        url=emulator.url,
    )  # fmt: skip
    assert result.returncode == 3  # line 2 needs a person's attention
    assert "line(s) 2 may have been submitted" in result.stderr
    assert [job["payload"] for job in emulator_jobs(emulator, model)] == [{"n": 3}]
    records = {r["line"]: r for r in read_records(out)}
    assert records[1]["request_id"] == "r-1"
    assert (records[2]["status"], records[2].get("request_id")) == ("submitting", None)
    assert records[3]["status"] == "submitted"
