"""What the CLI never does: leak the key, start a server by accident, traceback on bad input."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from together_queue.cli.results import header
from together_queue.emulator import EmulatorHandle

from .conftest import CLI, Running, cli_env, emulator_jobs, run_cli
from .fake_server import Answer, Seen, fake_server

SECRET = "sk-test-" + "s3cr3t" * 4


def _echo_the_key(seen: Seen) -> Answer:
    # The worst server: it puts the caller's Authorization header in its error message.
    echoed = seen.headers.get("authorization", "")
    return Answer(400, json.dumps({"error": {"message": f"bad request from {echoed}"}}))


@pytest.mark.parametrize("how", ["option", "env"])
def test_the_api_key_is_never_printed(tmp_path: Path, how: str) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text('{"n": 1}\n{"n": 2}\n')
    out = tmp_path / "results.jsonl"
    key = ["--api-key", SECRET] if how == "option" else []
    env = {"TOGETHER_API_KEY": SECRET}
    with fake_server(_echo_the_key) as server:
        bulk = run_cli(
            *key, "--json", "submit", "--file", str(jobs), "--model", "m", "--output", str(out),
            url=server.url, env=env,
        )  # fmt: skip
        single = run_cli(*key, "submit", "--model", "m", "--payload", "{}", url=server.url, env=env)
        # The server did see (and echo) the key: the test would catch a leak.
        assert all(s.headers["authorization"] == f"Bearer {SECRET}" for s in server.seen)
    assert bulk.returncode == 3, bulk.stderr
    assert "bad request from Bearer ***" in out.read_text()
    assert single.returncode == 3
    assert "bad request from Bearer ***" in single.stderr
    for text in (bulk.stdout, bulk.stderr, out.read_text(), single.stdout, single.stderr):
        assert SECRET not in text


def test_options_before_emulator_are_a_usage_error() -> None:
    result = run_cli("--api-key", "the-key", "emulator", "--port", "0", url=None)
    assert result.returncode == 2
    assert "together-queue emulator --api-key KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_before_emulator_prints_help_and_starts_nothing() -> None:
    result = subprocess.run(
        [*CLI, "--help", "emulator"],
        env=cli_env(None),
        capture_output=True,
        text=True,
        timeout=10,  # a started server would never end
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout.startswith("usage: together-queue")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["status", "", "--model", "echo"], "must not be empty"),
        (["wait", " ", "--model", "echo"], "must not be empty"),
        (["--base-url", "http://[::1", "metrics", "--model", "m"], "--base-url"),
        (["--base-url", "http://example.com", "metrics", "--model", "m"], "no opt-in"),
    ],
)
def test_bad_input_is_a_usage_error_not_a_traceback(args: list[str], expected: str) -> None:
    result = run_cli(*args, url=None, env={"TOGETHER_API_KEY": "k-1234"})
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert "k-1234" not in result.stderr


@pytest.mark.parametrize("request_id", ["", "  "])
def test_a_blank_request_id_in_the_results_file_is_a_usage_error(
    emulator: EmulatorHandle, tmp_path: Path, model: str, request_id: str
) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text('{"n": 1}\n')
    out = tmp_path / "results.jsonl"
    record = {"line": 1, "model": model, "request_id": request_id, "status": "submitted"}
    out.write_text(json.dumps(header("jobs.jsonl")) + "\n" + json.dumps(record) + "\n")
    result = run_cli(
        "submit", "--file", str(jobs), "--model", model, "--wait", "--output", str(out),
        "--resume", url=emulator.url,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "invalid request_id" in result.stderr
    assert "Traceback" not in result.stderr
    assert emulator_jobs(emulator, model) == []  # nothing sent on a guess


def test_file_dash_reads_stdin(emulator: EmulatorHandle, model: str) -> None:
    result = run_cli(
        "--json", "submit", "--file", "-", "--model", model, url=emulator.url,
        stdin='{"n": 1}\n{"n": 2}\n',
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    infos = {job["payload"]["n"]: job["info"] for job in emulator_jobs(emulator, model)}
    assert infos == {n: {"together_queue": {"line": n, "file": "<stdin>"}} for n in (1, 2)}


def test_demo_help_lists_only_what_the_demo_uses() -> None:
    result = run_cli("demo", "--help", url=None)
    assert result.returncode == 0
    assert "--json" in result.stdout
    assert "--base-url" not in result.stdout
    assert "--api-key" not in result.stdout


def test_the_wait_again_hint_names_the_base_url_but_never_the_key(
    emulator: EmulatorHandle, model: str
) -> None:
    submitted = run_cli("submit", "--model", model, "--payload", "{}", url=emulator.url)
    request_id = submitted.stdout.strip()
    key = "local-key-1234"
    run = Running(
        "--base-url", emulator.url, "--api-key", key, "wait", request_id, "--model", model,
        env=cli_env(None),
    )  # fmt: skip
    run.wait_for_stderr("pending")  # the first status is on screen: it is waiting
    code, _, stderr = run.interrupt()
    assert code == 130
    assert f"--base-url {emulator.url}" in stderr
    assert key not in stderr
