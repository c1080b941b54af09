"""Bulk submit after trouble: odd characters, earlier failures, garbled answers, Ctrl-C."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from together_queue.cli.jsonl import digest
from together_queue.cli.results import header
from together_queue.emulator import EmulatorHandle

from .conftest import Running, cli_env, emulator_jobs, run_cli
from .fake_server import Answer, Seen, fake_server


def records_of(path: Path) -> dict[int, dict[str, Any]]:
    # split("\n"), as a strict JSON Lines reader does: each record is one line.
    lines = path.read_text(encoding="utf-8").split("\n")
    return {r["line"]: r for r in map(json.loads, filter(None, lines)) if "line" in r}


def test_separators_in_outputs_keep_the_results_file_readable(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    odd = {"text": "a\u2028b\u2029c\x85d\x1ce"}
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(json.dumps(odd) + "\n" + '{"n": 2}\n', encoding="utf-8")
    out = tmp_path / "results.jsonl"
    args = ["submit", "--file", str(jobs), "--model", "echo", "--wait", "--output", str(out)]
    first = run_cli("--json", *args, url=emulator.url)
    assert first.returncode == 0, first.stderr
    assert all(ord(ch) < 128 for ch in out.read_text(encoding="utf-8"))  # nothing to split on
    assert records_of(out)[1]["outputs"] == odd
    stdout = first.stdout.splitlines()  # ASCII as well: splitlines() is safe on it
    assert sorted(json.loads(line)["line"] for line in stdout) == [1, 2]

    resumed = run_cli(*args, "--resume", url=emulator.url)
    assert resumed.returncode == 0, resumed.stderr
    assert "2 line(s) already submitted are skipped" in resumed.stderr


def test_a_results_file_with_raw_separators_can_be_resumed(
    emulator: EmulatorHandle, tmp_path: Path, model: str
) -> None:
    # As an older version wrote it: U+2028 and U+0085 unescaped inside a JSON string.
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text('{"n": 1}\n{"n": 2}\n')
    out = tmp_path / "results.jsonl"
    record = {"line": 1, "model": model, "request_id": "r-1", "status": "done", "outputs": {}}
    record["outputs"] = {"text": "x\u2028y\x85z"}
    record["digest"] = digest(b'{"n": 1}')
    out.write_text(
        json.dumps(header("jobs.jsonl")) + "\n" + json.dumps(record, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    result = run_cli(
        "submit", "--file", str(jobs), "--model", model, "--output", str(out), "--resume",
        url=emulator.url,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert [job["payload"] for job in emulator_jobs(emulator, model)] == [{"n": 2}]
    assert records_of(out)[1]["outputs"] == {"text": "x\u2028y\x85z"}


def test_resume_reports_failures_of_the_earlier_run(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text('{"n": 1}\n{"model": "fail", "payload": {"message": "no"}}\n')
    out = tmp_path / "results.jsonl"
    args = ["submit", "--file", str(jobs), "--model", "echo", "--wait", "--output", str(out)]
    first = run_cli(*args, url=emulator.url)
    assert first.returncode == 1, first.stderr

    again = run_cli(*args, "--resume", url=emulator.url)
    assert again.returncode == 1, again.stderr  # the failure is still there
    assert "line(s) 2: failed (in an earlier run)" in again.stderr
    assert "1 earlier failed" in again.stdout
    assert "1 earlier done" in again.stdout


@pytest.mark.parametrize(
    "body",
    [
        "<html>not json</html>",
        "{}",  # no requestId
        # (A 200 carrying a QueueError is the service saying no: the client core decides
        # so in one place, `_retry.submit_fate_unknown`, so it is not an unknown outcome.)
    ],
)
def test_a_garbled_200_to_a_submit_is_never_resent(tmp_path: Path, body: str) -> None:
    def respond(seen: Seen) -> Answer:
        return Answer(200, body)

    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text('{"n": 1}\n')
    out = tmp_path / "results.jsonl"
    args = ["submit", "--file", str(jobs), "--model", "m", "--output", str(out)]
    with fake_server(respond) as server:
        first = run_cli(*args, url=server.url)
        assert first.returncode == 3, first.stderr
        assert records_of(out)[1]["status"] == "unknown"
        sent = len(server.seen)
        assert sent >= 1

        resumed = run_cli(*args, "--resume", url=server.url)
        assert resumed.returncode == 3
        assert "line(s) 1 may have been submitted" in resumed.stderr
        assert len(server.seen) == sent  # nothing resent


@pytest.mark.parametrize("as_json", [False, True])
def test_ctrl_c_while_waiting_without_output_prints_every_request_id(
    emulator: EmulatorHandle, tmp_path: Path, model: str, as_json: bool
) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text('{"n": 1}\n{"n": 2}\n')
    flags = ["--json"] if as_json else []
    run = Running(
        *flags, "submit", "--file", str(jobs), "--model", model, "--wait",
        env=cli_env(emulator.url),
    )  # fmt: skip
    # The model has no handler: once both are submitted, the run waits forever.
    run.wait_for_stderr("2/2 lines")
    code, stdout, _ = run.interrupt()
    assert code == 130
    ids = {job["payload"]["n"]: job["request_id"] for job in emulator_jobs(emulator, model)}
    assert sorted(ids) == [1, 2]
    if as_json:
        got = {r["line"]: r["request_id"] for r in map(json.loads, stdout.splitlines())}
        assert got == ids
    else:
        assert stdout.splitlines() == [f"line {n}: {ids[n]}" for n in (1, 2)]
