"""Bulk submit hardening: resume identity, pipes and links, fatal errors, wording."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest

from together_queue.emulator import EmulatorHandle

from .conftest import CLI, RUN_TIMEOUT, cli_env, emulator_jobs, run_cli
from .fake_server import Answer, Seen, fake_server


def _jobs(path: Path, count: int, offset: int = 0) -> Path:
    path.write_text("".join(json.dumps({"n": n + offset}) + "\n" for n in range(count)))
    return path


def _records(path: Path) -> dict[int, dict[str, object]]:
    records = (json.loads(line) for line in path.read_text().splitlines())
    return {r["line"]: r for r in records if "line" in r}


# -- item 1: --resume proves the results file belongs to this input ----------------------------


def test_resume_refuses_the_results_of_another_input_and_changes_nothing(
    emulator: EmulatorHandle, tmp_path: Path, model: str
) -> None:
    first = _jobs(tmp_path / "jobs.jsonl", 2)
    out = tmp_path / "results.jsonl"
    done = run_cli("submit", "--file", str(first), "--model", model, "--output", str(out),
                   url=emulator.url)  # fmt: skip
    assert done.returncode == 0, done.stderr
    before = out.read_bytes()

    other = _jobs(tmp_path / "other.jsonl", 5, offset=100)
    result = run_cli("submit", "--file", str(other), "--model", model, "--output", str(out),
                     "--resume", url=emulator.url)  # fmt: skip
    assert result.returncode == 2
    assert "holds the results of 'jobs.jsonl', not of 'other.jsonl'" in result.stderr
    assert out.read_bytes() == before
    assert len(emulator_jobs(emulator, model)) == 2  # nothing sent

    # The same name with other content: the per-line digest tells.
    _jobs(first, 5, offset=100)
    result = run_cli("submit", "--file", str(first), "--model", model, "--output", str(out),
                     "--resume", url=emulator.url)  # fmt: skip
    assert result.returncode == 2
    assert "does not belong to this input: line 1" in result.stderr
    assert out.read_bytes() == before
    assert len(emulator_jobs(emulator, model)) == 2


def test_resume_refuses_a_file_recording_lines_the_input_does_not_have(
    emulator: EmulatorHandle, tmp_path: Path, model: str
) -> None:
    jobs = _jobs(tmp_path / "jobs.jsonl", 3)
    out = tmp_path / "results.jsonl"
    done = run_cli("submit", "--file", str(jobs), "--model", model, "--output", str(out),
                   url=emulator.url)  # fmt: skip
    assert done.returncode == 0, done.stderr
    before = out.read_bytes()
    _jobs(jobs, 2)  # lines 1-2 unchanged, line 3 gone
    result = run_cli("submit", "--file", str(jobs), "--model", model, "--output", str(out),
                     "--resume", url=emulator.url)  # fmt: skip
    assert result.returncode == 2
    assert "records 1 line(s) that are not" in result.stderr
    assert out.read_bytes() == before


# -- item 14: pipes, symlinks, planted temporary files ------------------------------------------


def test_output_to_dev_stdout_in_a_pipe_ends(
    emulator: EmulatorHandle, tmp_path: Path, model: str
) -> None:
    jobs = _jobs(tmp_path / "jobs.jsonl", 3)
    command = " ".join(
        [*CLI, "submit", "--file", str(jobs), "--model", model, "--output", "/dev/stdout"]
    )
    result = subprocess.run(
        f"{command} | cat",
        shell=True,
        env=cli_env(emulator.url),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert sorted(r["line"] for r in lines if r.get("status") == "submitted") == [1, 2, 3]


def test_compacting_keeps_a_symlinked_output_a_link_and_ignores_a_planted_tmp(
    emulator: EmulatorHandle, tmp_path: Path, model: str
) -> None:
    jobs = _jobs(tmp_path / "jobs.jsonl", 3)
    real = tmp_path / "real-results.jsonl"
    real.touch()  # a link to nothing is refused (see test_results_file_permissions.py)
    link = tmp_path / "results.jsonl"
    link.symlink_to(real)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    for name in ("results.jsonl.tmp", "real-results.jsonl.tmp"):  # the old fixed names
        (tmp_path / name).symlink_to(victim)
    result = run_cli("submit", "--file", str(jobs), "--model", model, "--output", str(link),
                     url=emulator.url)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert sorted(_records(real)) == [1, 2, 3]
    assert victim.read_text() == "precious\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left


# -- item 17: the first fatal error stops the run -----------------------------------------------


def test_a_wrong_key_stops_the_run_once_and_leaves_it_resumable(
    emulator: EmulatorHandle, tmp_path: Path, model: str
) -> None:
    def refuse(seen: Seen) -> Answer:
        return Answer(401, json.dumps({"error": {"message": "invalid key", "code": "401"}}))

    jobs = _jobs(tmp_path / "jobs.jsonl", 200)
    out = tmp_path / "results.jsonl"
    args = ["submit", "--file", str(jobs), "--model", model, "--concurrency", "4"]
    with fake_server(refuse) as server:
        result = run_cli(*args, "--output", str(out), url=server.url)
        sent = len(server.seen)
    assert result.returncode == 3
    assert sent <= 8  # stopped: not 200 identical 401s
    assert result.stderr.count("invalid key") == 1
    assert "stopped at the first fatal error" in result.stderr
    assert "resume with: together-queue submit" in result.stderr

    resumed = run_cli(*args, "--output", str(out), "--resume", url=emulator.url)
    assert resumed.returncode == 0, resumed.stderr
    assert sorted(job["payload"]["n"] for job in emulator_jobs(emulator, model)) == list(range(200))


def test_no_server_stops_the_run_once(tmp_path: Path, model: str) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    jobs = _jobs(tmp_path / "jobs.jsonl", 100)
    result = run_cli("submit", "--file", str(jobs), "--model", model, "--concurrency", "4",
                     url=url)  # fmt: skip
    assert result.returncode == 3
    assert result.stderr.count("stopped at the first fatal error") == 1
    assert result.stderr.count("connection error") == 1


# -- item 18: resume wording ---------------------------------------------------------------------


def test_an_unknown_outcome_is_explained_in_the_cli_s_terms(tmp_path: Path, model: str) -> None:
    def fail(seen: Seen) -> Answer:
        return Answer(500, json.dumps({"error": {"message": "boom"}}))

    jobs = _jobs(tmp_path / "jobs.jsonl", 1)
    out = tmp_path / "results.jsonl"
    args = ["submit", "--file", str(jobs), "--model", model, "--output", str(out)]
    with fake_server(fail) as server:
        first = run_cli(*args, url=server.url)
        again = run_cli(*args, "--resume", url=server.url)
        assert len(server.seen) == 1  # never resent
    assert first.returncode == 3
    assert "retry_submits" not in first.stderr + json.dumps(_records(out))
    assert "look for the job on the service" in first.stderr
    assert "the service's answer did not say" in again.stderr
    assert "interrupted" not in again.stderr


# -- item 22: a wait timeout has its own exit code -------------------------------------------------


def test_a_wait_timeout_exits_4(emulator: EmulatorHandle, tmp_path: Path, model: str) -> None:
    submitted = run_cli("submit", "--payload", "{}", "--model", model, url=emulator.url)
    assert submitted.returncode == 0, submitted.stderr
    request_id = submitted.stdout.strip()
    waited = run_cli("wait", request_id, "--model", model, "--timeout", "0.3", url=emulator.url)
    assert waited.returncode == 4, waited.stderr
    assert "the job goes on" in waited.stderr

    jobs = _jobs(tmp_path / "jobs.jsonl", 2)
    out = tmp_path / "results.jsonl"
    bulk = run_cli("submit", "--file", str(jobs), "--model", model, "--wait", "--timeout", "0.3",
                   "--output", str(out), url=emulator.url)  # fmt: skip
    assert bulk.returncode == 4, bulk.stderr
    assert {r["status"] for r in _records(out).values()} == {"timeout"}


@pytest.mark.parametrize("text", ["", "\n\n"])
def test_blank_lines_get_no_record(
    emulator: EmulatorHandle, tmp_path: Path, model: str, text: str
) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text('{"n": 1}\n' + text + '{"n": 2}\n')
    out = tmp_path / "results.jsonl"
    result = run_cli("submit", "--file", str(jobs), "--model", model, "--output", str(out),
                     url=emulator.url)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert sorted(_records(out)) == [1, 2 + text.count("\n")]


def test_a_whole_last_record_without_a_line_break_is_kept_on_resume(
    emulator: EmulatorHandle, tmp_path: Path, model: str
) -> None:
    # A hand-edited file may lack its last newline: that record is whole, not a kill's
    # half-write, and dropping it would resend a submitted line.
    jobs = _jobs(tmp_path / "jobs.jsonl", 2)
    out = tmp_path / "results.jsonl"
    done = run_cli("submit", "--file", str(jobs), "--model", model, "--output", str(out),
                   url=emulator.url)  # fmt: skip
    assert done.returncode == 0, done.stderr
    out.write_text(out.read_text().rstrip("\n"))
    again = run_cli("submit", "--file", str(jobs), "--model", model, "--output", str(out),
                    "--resume", url=emulator.url)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert len(emulator_jobs(emulator, model)) == 2  # nothing resent
    assert sorted(_records(out)) == [1, 2]
