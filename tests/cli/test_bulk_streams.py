"""Bulk submit: `--output` on standard output, input from a pausing pipe, an unreadable input."""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from together_queue.emulator import EmulatorHandle

from .conftest import CLI, RUN_TIMEOUT, cli_env, emulator_jobs, read_records_lenient, run_cli


def _jobs(path: Path, count: int) -> Path:
    path.write_text("".join(json.dumps({"n": n}) + "\n" for n in range(count)))
    return path


def _shell(command: list[str], tail: str, url: str) -> subprocess.CompletedProcess[str]:
    """Run `command TAIL` through the shell (for `> file` and `| reader`)."""
    return subprocess.run(
        f"{shlex.join(command)} {tail}",
        shell=True,
        env=cli_env(url),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )


def _submitted(records: list[dict[str, Any]]) -> list[int]:
    return sorted(r["line"] for r in records if r.get("status") == "submitted")


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_output_dev_stdout_redirected_to_a_file_holds_only_records(
    emulator: EmulatorHandle, tmp_path: Path, model: str, json_flag: list[str]
) -> None:
    jobs = _jobs(tmp_path / "jobs.jsonl", 2)
    out = tmp_path / "out.txt"
    command = [*CLI, *json_flag, "submit", "--file", str(jobs), "--model", model,
               "--output", "/dev/stdout"]  # fmt: skip
    result = _shell(command, f"> {shlex.quote(str(out))}", emulator.url)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]  # JSON, every line
    assert records[0] == {"together_queue_results": 1, "input": "jobs.jsonl"}
    assert _submitted(records) == [1, 2]
    assert Counter(json.dumps(r, sort_keys=True) for r in records).most_common(1)[0][1] == 1
    assert "2 submitted; results in /dev/stdout" in result.stderr


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_output_dev_stdout_through_a_pipe_gives_json_records_only(
    emulator: EmulatorHandle, tmp_path: Path, model: str, json_flag: list[str]
) -> None:
    jobs = _jobs(tmp_path / "jobs.jsonl", 3)
    command = [*CLI, *json_flag, "submit", "--file", str(jobs), "--model", model,
               "--output", "/dev/stdout"]  # fmt: skip
    # The reader re-prints each line as compact JSON and fails on one that is not (as `jq -c .`).
    reader = "import json, sys\nfor line in sys.stdin: print(json.dumps(json.loads(line)))"
    result = _shell(command, f"| python3 -c {shlex.quote(reader)}", emulator.url)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert _submitted(records) == [1, 2, 3]
    assert Counter(json.dumps(r, sort_keys=True) for r in records).most_common(1)[0][1] == 1
    assert "3 submitted" in result.stderr


def test_a_missing_input_leaves_no_results_file(tmp_path: Path, model: str) -> None:
    out = tmp_path / "results.jsonl"
    missing = tmp_path / "no-such-jobs.jsonl"
    result = run_cli("submit", "--file", str(missing), "--model", model, "--output", str(out),
                     url="http://127.0.0.1:9")  # fmt: skip
    assert result.returncode == 2
    assert "--file: cannot read" in result.stderr
    assert not out.exists()  # so the rerun, once the input is there, needs no --resume


def test_a_pause_in_standard_input_holds_up_neither_the_answers_nor_ctrl_c(
    emulator: EmulatorHandle, tmp_path: Path, model: str
) -> None:
    # `producer | together-queue submit --file -` while the producer waits: the lines
    # already sent are answered and recorded, and Ctrl-C ends the run at once.
    out = tmp_path / "results.jsonl"
    process = subprocess.Popen(
        [*CLI, "submit", "--file", "-", "--model", model, "--output", str(out)],
        env=cli_env(emulator.url),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdin is not None
        process.stdin.write('{"n": 1}\n{"n": 2}\n')
        process.stdin.flush()  # and no more: the writer pauses, stdin stays open
        deadline = time.monotonic() + 20
        while _submitted(read_records_lenient(out)) != [1, 2]:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the answers were not recorded during the pause"
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=10)  # not held by the read of stdin
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    assert "2 line(s) submitted in this run" in stderr
    assert "Fatal Python error" not in stderr  # no reader left holding stdin at exit
    assert sorted(job["payload"]["n"] for job in emulator_jobs(emulator, model)) == [1, 2]
