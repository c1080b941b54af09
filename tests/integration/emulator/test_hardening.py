"""Issue 16's emulator items: 429 faults, faults after auth, keys off the command line,
the nesting limit, handlers found from the current folder, and ``report(number)``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest

from together_queue._json import MAX_JSON_DEPTH
from together_queue.emulator.cli import API_KEYS_ENV, build_parser, config_from_args, main
from together_queue.emulator.faults import FaultPlan

from .conftest import Api, Factory
from .helpers import jobs, status, submit, wait_status

MODULE = "tests.integration.emulator.user_handlers"


@pytest.mark.parametrize("spec", ["submit:429:next=1:after", "*:429:0.5:after:retry_after=2"])
def test_a_429_after_fault_is_rejected_with_a_reason(spec: str) -> None:
    with pytest.raises(ValueError, match="429 means the call was not taken"):
        FaultPlan.parse([spec])


def test_a_429_after_fault_is_a_400_over_http_and_exit_2_on_the_cli(
    queue_emulator_factory: Factory, api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    client = api(queue_emulator_factory())
    response = client.post(
        "/_emulator/faults",
        json={"rules": [{"operation": "submit", "kind": "429", "when": "after"}]},
    )
    assert response.status_code == 400 and "429" in response.json()["message"]
    with pytest.raises(SystemExit) as exit_info:
        main(["--port", "0", "--fault", "submit:429:next=1:after"])
    assert exit_info.value.code == 2
    assert "not taken" in capsys.readouterr().err


def test_faults_strike_after_auth(queue_emulator_factory: Factory, api: Api) -> None:
    emulator = queue_emulator_factory(api_keys=["k"], faults=FaultPlan.parse(["submit:500:next=1"]))
    anonymous = api(emulator)
    keyed = api(emulator, headers={"Authorization": "Bearer k"})
    for _ in range(3):  # unauthenticated calls: a 401 each, and the fault stays armed
        assert (
            anonymous.post("/v1/queue/submit", json={"model": "m", "payload": {}}).status_code
            == 401
        )
    assert keyed.post("/v1/queue/submit", json={"model": "m", "payload": {}}).status_code == 500
    assert keyed.post("/v1/queue/submit", json={"model": "m", "payload": {}}).status_code == 200


def test_api_keys_come_from_the_environment_and_files_too(tmp_path: Path) -> None:
    key_file = tmp_path / "keys.txt"
    key_file.write_text("# team keys\nfile-key-1\n\n  file-key-2  \n", encoding="utf-8")
    args = build_parser().parse_args(["--api-key", "cli-key", "--api-key-file", str(key_file)])
    config = config_from_args(args, {API_KEYS_ENV: "env-a, env-b,,cli-key"})
    assert config.api_keys == ("cli-key", "file-key-1", "file-key-2", "env-a", "env-b")
    assert config_from_args(build_parser().parse_args([]), {}).api_keys == ()


def test_an_unreadable_key_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--port", "0", "--api-key-file", str(tmp_path / "missing.txt")]) == 2
    assert "missing.txt" in capsys.readouterr().err


def test_the_cli_enforces_keys_given_by_environment_and_file(tmp_path: Path) -> None:
    key_file = tmp_path / "keys"
    key_file.write_text("from-file\n", encoding="utf-8")
    env = {**os.environ, API_KEYS_ENV: "from-env"}
    argv = [sys.executable, "-m", "together_queue.emulator", "--port", "0"]
    argv += ["--api-key-file", str(key_file)]
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip().rsplit(" ", 1)[-1]
        assert url.startswith("http://127.0.0.1:"), url
        assert all("from-" not in arg for arg in argv)  # nothing for `ps` to show
        with httpx.Client(base_url=url, timeout=10, trust_env=False) as client:
            body = {"model": "m", "payload": {}}
            assert client.post("/v1/queue/submit", json=body).status_code == 401
            for key in ("from-env", "from-file"):
                headers = {"Authorization": f"Bearer {key}"}
                assert (
                    client.post("/v1/queue/submit", json=body, headers=headers).status_code == 200
                )
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


def _nested(depth: int) -> Any:
    value: Any = 1
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def test_a_964_deep_payload_is_a_400_naming_the_limit(
    queue_emulator_factory: Factory, api: Api
) -> None:
    client = api(queue_emulator_factory())
    # Sent as text: the client's own json.dumps must not be what limits this test.
    body = '{"model": "m", "payload": ' + '{"k": ' * 963 + "1" + "}" * 963 + "}"
    response = client.post(
        "/v1/queue/submit", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert str(MAX_JSON_DEPTH) in response.json()["message"]
    assert jobs(client) == []


def test_the_deepest_allowed_payload_stays_readable(
    queue_emulator_factory: Factory, api: Api
) -> None:
    client = api(queue_emulator_factory())
    deep = _nested(MAX_JSON_DEPTH - 1)  # the body object adds the last level
    rid = submit(client, "m", {"deep": deep} if isinstance(deep, list) else deep)
    assert status(client, "m", rid)["status"] == "pending"
    assert len(jobs(client)) == 1
    too_deep = {"model": "m", "payload": _nested(MAX_JSON_DEPTH)}
    assert client.post("/v1/queue/submit", json=too_deep).status_code == 400


def test_a_module_handler_is_found_in_the_current_folder(tmp_path: Path) -> None:
    (tmp_path / "my_local_handler.py").write_text(
        textwrap.dedent(
            """
            def run(payload):
                return {"seen": payload["x"]}
            """
        ),
        encoding="utf-8",
    )
    script = Path(sys.executable).with_name("together-queue")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.Popen(
        [str(script), "emulator", "--port", "0", "--model", "mine=my_local_handler:run"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening on" in line, proc.stderr.read() if proc.stderr else ""
        url = line.strip().rsplit(" ", 1)[-1]
        with httpx.Client(base_url=url, timeout=10, trust_env=False) as client:
            rid = submit(client, "mine", {"x": 7})
            assert wait_status(client, "mine", rid, {"done"})["outputs"] == {"seen": 7}
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


def test_report_accepts_a_number_as_progress(queue_emulator_factory: Factory, api: Api) -> None:
    client = api(
        queue_emulator_factory(
            models={"num": f"{MODULE}:report_number", "bad": f"{MODULE}:report_wrong"}
        )
    )
    done = wait_status(client, "num", submit(client, "num", {}), {"done"})
    assert done["info"]["progress"] == 0.5
    failed = wait_status(client, "bad", submit(client, "bad", {}), {"failed"})
    assert "report({'progress': 0.5})" in failed["info"]["error"]
    assert "report(0.5)" in failed["info"]["error"]
