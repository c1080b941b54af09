"""Suggested command lines (resume, wait again) are derived from the parser."""

from __future__ import annotations

import shlex

from together_queue.cli import build_parser
from together_queue.cli.argv import command_line


def test_the_resume_command_parses_back_to_the_same_run() -> None:
    words = [
        "--base-url", "http://127.0.0.1:9", "--api-key", "sk-secret", "submit",
        "--file", "my jobs.jsonl", "--model", "m", "--priority", "3", "--info", '{"a": 1}',
        "--wait", "--timeout", "2.5", "--concurrency", "4", "--output", "out.jsonl",
    ]  # fmt: skip
    args = build_parser().parse_args(words)
    line = command_line(args, "submit", overrides={"resume": True})
    assert "sk-secret" not in line and "--api-key" not in line
    again = shlex.split(line)
    assert again[0] == "together-queue"
    resumed = build_parser().parse_args(again[1:])
    expected = {**vars(args), "api_key": None, "resume": True}
    assert vars(resumed) == expected


def test_options_at_their_defaults_are_left_out() -> None:
    args = build_parser().parse_args(["submit", "--file", "j.jsonl", "--output", "o.jsonl"])
    assert command_line(args, "submit") == ("together-queue submit --file j.jsonl --output o.jsonl")


def test_global_options_given_after_the_command_are_kept() -> None:
    args = build_parser().parse_args(
        ["submit", "--base-url", "http://127.0.0.1:9", "--json", "--file", "j", "--output", "o"]
    )
    line = command_line(args, "submit", overrides={"resume": True})
    assert line == (
        "together-queue --base-url http://127.0.0.1:9 --json submit --file j --output o --resume"
    )


def test_repeated_global_options_before_and_after_the_command_are_all_kept() -> None:
    from together_queue.cli import _merge_repeated

    parser = build_parser()
    args = parser.parse_args(
        ["--header", "X-A: 1", "-v", "submit", "--header", "X-B: 2", "-v", "--file", "j",
         "--output", "o"]
    )  # fmt: skip
    _merge_repeated(args)
    line = command_line(args, "submit", overrides={"resume": True})
    assert line == (
        "together-queue --header 'X-A: 1' --header 'X-B: 2' --verbose --verbose "
        "submit --file j --output o --resume"
    )
    again = parser.parse_args(shlex.split(line)[1:])
    _merge_repeated(again)
    assert (again.header, again.verbose) == (args.header, args.verbose)
