"""The one-job commands, driven as subprocesses against an emulator on loopback."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import together_queue
from together_queue._extras import INSTALL_EMULATOR
from together_queue.emulator import EmulatorHandle

from .conftest import cli_env, emulator_jobs, run_cli


def test_version_prints_the_package_version() -> None:
    result = run_cli("--version", url=None)
    assert result.returncode == 0
    assert result.stdout.strip() == f"together-queue {together_queue.__version__}"


def test_importing_the_library_does_not_import_the_cli() -> None:
    code = (
        "import sys, together_queue; "
        "print(sorted(m for m in sys.modules if m.startswith('together_queue.') "
        "and (m.endswith('.cli') or '._cli' in m or 'emulator' in m)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert result.stdout.strip() == "[]"


def test_submit_prints_the_request_id_that_status_and_wait_know(
    emulator: EmulatorHandle,
) -> None:
    submitted = run_cli(
        "submit", "--model", "echo", "--payload", '{"word": "hi"}', url=emulator.url
    )
    assert submitted.returncode == 0, submitted.stderr
    request_id = submitted.stdout.strip()
    assert [job["request_id"] for job in emulator_jobs(emulator, "echo")].count(request_id) == 1

    waited = run_cli("--json", "wait", request_id, "--model", "echo", url=emulator.url)
    assert waited.returncode == 0, waited.stderr
    final = json.loads(waited.stdout)
    assert (final["request_id"], final["status"], final["outputs"]) == (
        request_id,
        "done",
        {"word": "hi"},
    )

    status = run_cli("status", request_id, "--model", "echo", "--json", url=emulator.url)
    assert status.returncode == 0
    assert json.loads(status.stdout)["status"] == "done"
    human = run_cli("status", request_id, "--model", "echo", url=emulator.url)
    assert "status      done" in human.stdout
    assert '{"word": "hi"}' in human.stdout


def test_submit_wait_reports_progress_and_outputs(emulator: EmulatorHandle, tmp_path: Path) -> None:
    payload = tmp_path / "payload.json"
    payload.write_text('{"seconds": 0.4}')
    result = run_cli(
        "submit", "--model", "sleep", "--payload", f"@{payload}", "--priority", "3", "--wait",
        "--info", '{"tag": "t1"}', url=emulator.url,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert 'outputs     {"slept": 0.4}' in result.stdout
    assert "progress    100%" in result.stdout
    assert "done" in result.stderr  # the live status lines go to stderr when not a terminal
    job = emulator_jobs(emulator, "sleep")[-1]
    assert (job["priority"], job["info"]["tag"]) == (3, "t1")


def test_a_failed_job_exits_1_with_its_status_as_json(emulator: EmulatorHandle) -> None:
    result = run_cli(
        "submit", "--json", "--model", "fail", "--payload", '{"message": "boom"}', "--wait",
        url=emulator.url,
    )  # fmt: skip
    assert result.returncode == 1
    final = json.loads(result.stdout)
    assert (final["status"], final["info"]["error"]) == ("failed", "boom")


def test_cancel_a_pending_job_then_wait_exits_1(emulator: EmulatorHandle, model: str) -> None:
    request_id = run_cli("submit", "--model", model, "--payload", "{}", url=emulator.url)
    request_id_text = request_id.stdout.strip()
    canceled = run_cli("--json", "cancel", request_id_text, "--model", model, url=emulator.url)
    assert canceled.returncode == 0, canceled.stderr
    assert json.loads(canceled.stdout) == {
        "request_id": request_id_text,
        "model": model,
        "status": "canceled",
        "canceled": True,
    }
    waited = run_cli("wait", request_id_text, "--model", model, url=emulator.url)
    assert waited.returncode == 1
    assert "canceled" in waited.stdout
    assert [job["status"] for job in emulator_jobs(emulator, model)] == ["canceled"]


def test_cancel_of_a_finished_job_exits_1_and_says_why(emulator: EmulatorHandle) -> None:
    done = run_cli(
        "submit", "--json", "--model", "echo", "--payload", "{}", "--wait", url=emulator.url
    )
    request_id = json.loads(done.stdout)["request_id"]
    result = run_cli("cancel", request_id, "--model", "echo", url=emulator.url)
    assert result.returncode == 1
    assert result.stdout.strip() == f"not canceled: job {request_id} is done"


def test_wait_timeout_exits_4(emulator: EmulatorHandle, model: str) -> None:
    request_id = run_cli("submit", "--model", model, "--payload", "{}", url=emulator.url).stdout
    result = run_cli(
        "wait", request_id.strip(), "--model", model, "--timeout", "0.3", url=emulator.url
    )
    assert result.returncode == 4  # its own code: the wait timed out
    assert "did not finish in time" in result.stderr


def test_metrics_once_and_watched(emulator: EmulatorHandle, model: str) -> None:
    for _ in range(2):
        assert (
            run_cli("submit", "--model", model, "--payload", "{}", url=emulator.url).returncode == 0
        )
    once = run_cli("--json", "metrics", "--model", model, url=emulator.url)
    assert json.loads(once.stdout) == {
        "model": model,
        "messages_waiting": 2,
        "messages_running": 0,
        "total_jobs": 2,
    }
    watched = run_cli(
        "metrics", "--model", model, "--watch", "--interval", "0.05", "--count", "3", "--json",
        url=emulator.url,
    )  # fmt: skip
    assert watched.returncode == 0, watched.stderr
    samples = [json.loads(line) for line in watched.stdout.splitlines()]
    assert len(samples) == 3
    assert all(s["messages_waiting"] == 2 and s["time"] for s in samples)
    plain = run_cli(
        "metrics", "--model", model, "--watch", "--interval", "0.05", "--count", "2",
        url=emulator.url,
    )  # fmt: skip
    lines = plain.stdout.splitlines()
    assert len(lines) == 2  # not a terminal: one plain line per sample
    assert all(line.endswith(f"{model}: waiting 2, running 0, total 2") for line in lines)


def test_unknown_job_exits_3_with_one_line(emulator: EmulatorHandle) -> None:
    result = run_cli("status", "no-such-job", "--model", "echo", url=emulator.url)
    assert result.returncode == 3
    assert result.stdout == ""
    assert result.stderr.startswith("error: HTTP 404")
    assert len(result.stderr.splitlines()) == 1


def test_a_closed_port_exits_3_without_traceback() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run_cli("--base-url", f"http://127.0.0.1:{port}", "metrics", "--model", "m", url=None)
    assert result.returncode == 3
    assert result.stderr.startswith("error: connection error")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["submit", "--model", "m"],
        ["submit", "--model", "m", "--payload", "{"],
        ["submit", "--model", "m", "--payload", "[1]"],
        ["submit", "--model", "m", "--payload", '{"x": NaN}'],
        ["submit", "--payload", "{}"],
        ["submit", "--model", "m", "--payload", "{}", "--priority", "high"],
        ["submit", "--model", "m", "--payload", "@/no/such/file.json"],
        ["submit", "--model", "m", "--payload", "{}", "--resume"],
        ["status", "abc"],
        ["metrics", "--model", "m", "--count", "2"],
        ["metrics", "--model", "m", "--watch", "--interval", "0"],
        ["submit", "--model", "m", "--file", "/no/such/jobs.jsonl"],
    ],
)
def test_usage_errors_exit_2_before_any_request(args: list[str]) -> None:
    # A closed URL: a usage error must be found before any connection is tried.
    result = run_cli(*args, url="http://127.0.0.1:9")
    assert result.returncode == 2, result.stderr
    assert "error" in result.stderr
    assert "Traceback" not in result.stderr


def test_emulator_command_is_delegated() -> None:
    result = run_cli("emulator", "--help", url=None)
    assert result.returncode == 0
    assert "together-queue emulator" in result.stdout
    assert "--fault" in result.stdout


# Runs the CLI with starlette and uvicorn made unimportable, as without the extra.
_WITHOUT_EXTRA = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("starlette", "uvicorn"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Block())
from together_queue.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("command", [["demo"], ["emulator", "--port", "0"]])
def test_without_the_emulator_extra_a_hint_and_exit_2(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _WITHOUT_EXTRA, *command],
        env=cli_env(None),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    # An error: on stderr, in the one wording every message about the extra uses.
    assert INSTALL_EMULATOR == "pip install 'together-queue[emulator]'"
    assert INSTALL_EMULATOR in result.stderr and result.stdout == ""
    assert "Traceback" not in result.stderr


def test_payload_from_stdin(emulator: EmulatorHandle, model: str) -> None:
    result = run_cli(
        "submit", "--model", model, "--payload", "@-", url=emulator.url, stdin='{"from": "stdin"}'
    )
    assert result.returncode == 0, result.stderr
    assert [job["payload"] for job in emulator_jobs(emulator, model)] == [{"from": "stdin"}]
