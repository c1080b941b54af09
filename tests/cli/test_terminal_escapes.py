"""Text from a server or a worker never reaches the terminal with its control characters."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .conftest import run_cli
from .fake_server import Answer, Seen, fake_server

# A window title, a bell, a screen clear, a CSI as one C1 byte, and a right-to-left override.
HOSTILE = "\x1b]0;owned\x07\x1b[2J\x9b31m\u202eevil"
# What may be printed: printable text, and the line breaks the CLI itself writes.
_FORBIDDEN = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _hostile(seen: Seen) -> Answer:
    """Every route answers with hostile text in every field a person may see."""
    path = seen.path.split("?", 1)[0]
    if path.endswith("/queue/submit"):
        return Answer(200, json.dumps({"requestId": "r-" + HOSTILE}))
    if path.endswith("/queue/status"):
        body = {
            "request_id": "r-" + HOSTILE,
            "model": "m-" + HOSTILE,
            "status": "failed",
            "outputs": {"text": HOSTILE},
            "info": {"error": "boom " + HOSTILE, "progress": 0.5},
            "warnings": ["warning " + HOSTILE],
        }
        return Answer(200, json.dumps(body))
    if path.endswith("/queue/cancel"):
        return Answer(409, json.dumps({"error": {"message": "no " + HOSTILE, "code": "x"}}))
    return Answer(400, json.dumps({"error": {"message": "bad " + HOSTILE, "code": "x"}}))


@pytest.mark.parametrize(
    "args",
    [
        ["status", "r-1", "--model", "m"],
        ["wait", "r-1", "--model", "m"],
        ["cancel", "r-1", "--model", "m"],
        ["metrics", "--model", "m"],
        ["submit", "--payload", "{}", "--model", "m"],
        ["submit", "--payload", "{}", "--model", "m", "--wait"],
        ["submit", "--file", "{jobs}", "--model", "m", "--wait"],
        ["submit", "--file", "{jobs}", "--model", "m", "--wait", "--output", "{out}"],
        ["download", "http://127.0.0.1:9/v1/storage/x", "-o", "{out}"],
    ],
    ids=lambda args: " ".join(args[:3]),
)
def test_no_command_prints_a_control_character_it_was_sent(tmp_path: Path, args: list[str]) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text('{"n": 1}\n{"n": 2}\n')
    out = tmp_path / "out.jsonl"
    words = [a.replace("{jobs}", str(jobs)).replace("{out}", str(out)) for a in args]
    with fake_server(_hostile) as server:
        if words[0] == "download":
            words[1] = f"{server.url}/v1/storage/x"
        result = run_cli(*words, url=server.url)
    shown = result.stdout + result.stderr
    if "--output" not in args:  # with a results file, failures are in the file only
        assert "evil" in shown, shown  # the text itself is shown, escaped
    assert not _FORBIDDEN.findall(shown), shown


def test_printable_escapes_controls_and_keeps_text() -> None:
    from together_queue.cli.output import printable

    assert printable("a\x1b[31mb\x07\x9b\u202ec\u2028d\te") == (
        "a\\x1b[31mb\\x07\\x9b\\u202ec\\u2028d\\x09e"
    )
    assert printable("déjà vu ✓ 日本") == "déjà vu ✓ 日本"
