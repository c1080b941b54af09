"""`together-queue clear --model M`: cancel every pending job of a model, after confirming.

Clearing cannot be undone, so on a terminal the command asks first (saying how many
jobs are waiting); when stdin is not a terminal (a script, a pipe, CI) there is no one
to ask, and it refuses unless `--yes` says the caller meant it (exit 2). A "no" on the terminal
exits 1 with nothing cleared.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from together_queue.cli.common import EXIT_JOB, EXIT_OK, UsageError, make_client, model_arg

__all__ = ["add_parser", "cmd_clear"]

_YES = frozenset({"y", "yes"})


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    """Register the `clear` command on the `commands` subparsers of the CLI."""
    text = "cancel every pending job of a model (running jobs continue)"
    clear = commands.add_parser(
        "clear",
        parents=[common],
        help=text,
        description=text[0].upper() + text[1:] + ". Asks for confirmation on a terminal; "
        "elsewhere --yes is required.",
    )
    clear.add_argument("--model", type=model_arg, required=True)
    clear.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")


def _confirmed(model: str, waiting: int) -> bool:
    """Ask on the terminal; an empty answer or end of input is a no."""
    from together_queue.cli.output import printable

    print(
        f"Cancel all {waiting} pending job(s) of model {printable(repr(model))}? "
        "Running jobs continue. [y/N] ",
        end="",
        file=sys.stderr,
        flush=True,
    )
    answer = sys.stdin.readline()
    if not answer.endswith("\n"):
        print(file=sys.stderr)  # end of input: finish the prompt's line
    return answer.strip().lower() in _YES


def cmd_clear(args: argparse.Namespace) -> int:
    """`clear`: cancel every pending job of --model; print how many were canceled."""
    if not args.yes and not sys.stdin.isatty():
        raise UsageError(
            f"clear cancels every pending job of {args.model!r} and cannot be undone; "
            "stdin is not a terminal to confirm on, so pass --yes"
        )
    with make_client(args) as client:
        if not args.yes:
            waiting = client.metrics(args.model).messages_waiting
            if not _confirmed(args.model, waiting):
                print("not confirmed: nothing was cleared", file=sys.stderr)
                return EXIT_JOB
        result = client.clear(args.model)
    if args.json:
        from together_queue.cli.output import emit_json

        emit_json({"model": result.model, "canceled_count": result.canceled_count})
    else:
        from together_queue.cli.output import printable

        print(f"canceled {result.canceled_count} pending job(s) of {printable(result.model)}")
    return EXIT_OK
