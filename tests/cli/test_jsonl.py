"""The pure parts of bulk submit: how a line is read, and how the results log folds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from together_queue._json import reject_constant
from together_queue.cli.common import UsageError
from together_queue.cli.jsonl import Defaults, Request, _decode, parse_line, read_input
from together_queue.cli.output import format_ranges
from together_queue.cli.results import ResultsIndex, compact

DEFAULTS = Defaults(model="m", priority=2, info={"from": "cli"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', Request("m", {"a": 1}, 2, {"from": "cli"})),
        ('{"payload": {"a": 1}}', Request("m", {"a": 1}, 2, {"from": "cli"})),
        (
            '{"model": "x", "payload": {}, "priority": -1, "info": null}',
            Request("x", {}, -1, None),
        ),
        # A payload that has a "payload" key of its own is written wrapped.
        ('{"payload": {"payload": 1}}', Request("m", {"payload": 1}, 2, {"from": "cli"})),
    ],
)
def test_a_line_is_a_payload_or_a_full_request(text: str, expected: Request) -> None:
    assert parse_line(text, 1, DEFAULTS).request == expected


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("{", "not valid JSON"),
        ('{"a": Infinity}', "not valid JSON"),
        ('"text"', "got a string"),
        ('{"payload": {}, "priority": true}', '"priority" must be an integer, got a boolean'),
        ('{"payload": {}, "priority": 1.5}', '"priority" must be an integer, got a number'),
        ('{"payload": {}, "info": []}', '"info" must be an object'),
        ('{"payload": {}, "model": ""}', '"model" must be a non-empty string'),
        # Issue 16 item 4: a line with "payload" is a full request, with documented keys only.
        ('{"model": "echo", "payload": {"a": 1}, "priorty": 5}', 'unknown key "priorty"'),
        ('{"payload": {"a": 1}, "b": 2, "a": 3}', 'unknown key "a", "b"'),
        ('{"payload": "text"}', '"payload" must be an object, got a string'),
    ],
)
def test_a_bad_line_says_why(text: str, error: str) -> None:
    line = parse_line(text, 7, DEFAULTS)
    assert (line.line, line.request) == (7, None)
    assert line.error is not None and error in line.error


def test_without_model_a_payload_line_is_bad() -> None:
    line = parse_line('{"a": 1}', 1, Defaults(None, 0, None))
    assert line.error is not None and "no model" in line.error


def _strict(text: str) -> Any:
    return json.loads(text, parse_constant=reject_constant)


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1}',
        ' \t{"a": [1, {"b": null}], "c": "\u00e9"}\r\n',
        "{}",
        '{"a": 1} {"b": 2}',  # two values: "Extra data"
        '{"a": 1}x',
        '{"a": 1',
        '{"a": NaN}',
        '{"a": -Infinity}',
        "[1, 2]",
        '"text"',
        "7",
        "\x0b{}",  # str.strip() removes it; JSON does not count it as whitespace
        "{}\u00a0",
        "",
        "   ",
        '{"a": 1}\n{"b": 2}',
    ],
)
def test_the_quick_decode_answers_as_the_strict_decoder_does(text: str) -> None:
    try:
        expected = _strict(text)
    except ValueError as exc:
        error: ValueError | None = exc
    else:
        error = None
    if error is None:
        assert _decode(text) == expected
        return
    with pytest.raises(ValueError) as raised:
        _decode(text)
    assert (type(raised.value), str(raised.value)) == (type(error), str(error))


def test_payload_lines_meet_the_command_line_s_problems_each_time() -> None:
    # The defaults are checked once, yet every payload line that takes them says why.
    bad = Defaults(model="m", priority=True, info=None)  # a bool is not a priority
    for number in (1, 2):
        line = parse_line('{"a": 1}', number, bad)
        assert line.error == '"priority" must be an integer, got a boolean'
    # A full request that gives its own priority does not inherit the problem.
    line = parse_line('{"payload": {"a": 1}, "priority": 3}', 3, bad)
    assert line.request == Request("m", {"a": 1}, 3, None)
    no_info = Defaults(model="m", priority=0, info=[])  # type: ignore[arg-type]
    assert parse_line("{}", 1, no_info).error == '"info" must be an object, got an array'


def test_read_input_numbers_physical_lines_and_survives_bad_bytes(tmp_path: Path) -> None:
    path = tmp_path / "jobs.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\r\n\n   \n\xff\xfe\n{"b": 2}')
    lines = list(read_input(path, DEFAULTS))
    assert [(item.line, item.error is None) for item in lines] == [(1, True), (4, False), (5, True)]
    with pytest.raises(UsageError):
        list(read_input(tmp_path / "missing.jsonl", DEFAULTS))


def test_the_index_reads_each_line_s_last_record_and_compacts(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text(
        '{"together_queue_results": 1, "input": "jobs.jsonl"}\n'
        '{"line": 2, "model": "m", "status": "submitting"}\n'
        '{"line": 1, "model": "m", "status": "submitting"}\n'
        '{"line": 1, "model": "m", "request_id": "r1", "status": "submitted"}\n'
        '{"line": 1, "model": "m", "request_id": "r1", "status": "error", "error": "wait failed"}\n'
        '{"line": 3, "status": "invalid", "error": "bad"}\n'
    )
    index = ResultsIndex(path)
    states = {n: index.state(n) for n in index.lines()}
    index.close()
    assert list(states) == [1, 2, 3]
    s1, s2, s3 = states[1], states[2], states[3]
    assert s1 is not None and s2 is not None and s3 is not None
    assert (s1.request_id, s1.status, s1.submitted) == ("r1", "error", True)
    assert s2.uncertain and not s2.submitted
    assert not s3.uncertain and not s3.submitted and s3.retry
    compact(path)
    assert path.read_text().splitlines() == [
        '{"together_queue_results": 1, "input": "jobs.jsonl"}',
        '{"line": 1, "model": "m", "request_id": "r1", "status": "error", "error": "wait failed"}',
        '{"line": 2, "model": "m", "status": "submitting"}',
        '{"line": 3, "status": "invalid", "error": "bad"}',
    ]


def test_a_file_that_is_not_a_results_log_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text('{"not": "ours"}\n{"line": 1, "status": "submitted"}\n')
    with pytest.raises(UsageError, match="no results header"):
        ResultsIndex(path)
    path.write_text('{"together_queue_results": 1, "input": "j"}\n{"nope": 1}\n')
    with pytest.raises(UsageError, match="is it a results file"):
        ResultsIndex(path)


def test_format_ranges() -> None:
    assert format_ranges([7, 1, 2, 3, 9, 10, 2]) == "1-3, 7, 9-10"
    assert format_ranges([]) == ""
