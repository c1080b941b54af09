"""Command lines for the user to run next (resume, wait again), derived from the parser.

Each option of the command is written back from the parsed arguments as the parser
defines it, so an option added to the parser is carried over without further code.
The API key never is: it stays in the environment.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Collection, Mapping
from typing import Any

__all__ = ["command_line"]

NEVER_SHOWN: frozenset[str] = frozenset({"api_key"})
"""Destinations never written into a suggested command line."""


def command_line(
    args: argparse.Namespace,
    command: str,
    *,
    overrides: Mapping[str, Any] | None = None,
    leave_out: Collection[str] = (),
) -> str:
    """`together-queue COMMAND ...` that repeats `args`, shell-quoted.

    `overrides` replaces values by destination (`{"resume": True}`); `leave_out` names
    destinations to drop. Options left at their defaults are not written.
    """
    from together_queue.cli import build_parser

    values = {**vars(args), **(overrides or {})}
    parser = build_parser()
    words = ["together-queue"]
    # The global options first, as the top-level parser holds them (given before or
    # after the command); then the command's own options.
    shown: set[str] = set()
    for action in parser._actions:
        if action.option_strings and _shown(action, leave_out):
            words += _words(action, values.get(action.dest))
            shown.update(action.option_strings)
    words.append(command)
    for action in _subparser(parser, command)._actions:
        if shown.intersection(action.option_strings) or not _shown(action, leave_out):
            continue
        words += _words(action, values.get(action.dest))
    return shlex.join(words)


def _shown(action: argparse.Action, leave_out: Collection[str]) -> bool:
    dest = action.dest
    return dest not in NEVER_SHOWN and dest not in leave_out and dest != argparse.SUPPRESS


def _subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found: argparse.ArgumentParser = action.choices[command]
            return found
    raise LookupError(f"no command {command!r}")


def _words(action: argparse.Action, value: Any) -> list[str]:
    """`value` written back as `action` reads it; [] when it is absent or the default."""
    if isinstance(action, argparse._HelpAction | argparse._VersionAction):
        return []
    if not action.option_strings:  # a positional argument
        return [] if value is None else [str(value)]
    flag = max(action.option_strings, key=len)  # the long form
    if isinstance(action, argparse._StoreTrueAction):
        return [flag] if value is True else []
    if isinstance(action, argparse._CountAction):
        return [flag] * (value or 0)
    if isinstance(action, argparse._AppendAction):
        return [word for item in value or () for word in (flag, _text(item))]
    if value is None or value is False or value == action.default:
        return []
    return [flag, _text(value)]


def _text(value: Any) -> str:
    """A parsed value as the option's text: a (name, value) pair as `NAME: VALUE`."""
    if isinstance(value, tuple) and len(value) == 2:
        return f"{value[0]}: {value[1]}"
    return str(value)
