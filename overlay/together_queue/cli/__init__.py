"""The `together-queue` command: submit, watch and manage Queue jobs; run the emulator and demo.

Exit codes: 0 ok; 1 a job failed or was canceled (or could not be canceled);
2 usage (bad arguments or input); 3 the service, the network or the local
system failed; 4 waiting ran out of time (--timeout; the job goes on);
130 interrupted (Ctrl-C). A bulk submit exits with the highest code of its
lines. Expected errors print one line, `error: ...`, on stderr and no
traceback. `--json` prints machine-readable JSON on stdout: one object, or
JSON Lines for bulk submits and `--watch`.

The command modules are imported only when their command runs, so that
`--version` and `--help` stay fast. `together-queue emulator ...` (the command
word first) is handed whole to the emulator's own CLI: the global options do not
apply to it (`together-queue emulator --api-key KEY` gives the emulator its key).

Records in the CLI are stdlib dataclasses, where the library and the emulator use
attrs: the command's own modules load no attrs, so an argument error or a resume
check answers before the client's models are imported.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence

from together_queue._extras import INSTALL_EMULATOR
from together_queue._version import __version__
from together_queue.cli import clear as clear_command
from together_queue.cli import download as download_command
from together_queue.cli.common import (
    header_arg,
    model_arg,
    positive_float,
    positive_int,
    request_id_arg,
)

__all__ = ["build_parser", "main"]

_EMULATOR_HINT = f"error: the emulator needs extra packages: {INSTALL_EMULATOR}"
# command -> (module, function), imported on use.
_COMMANDS = {
    "submit": ("together_queue.cli.commands", "cmd_submit"),
    "status": ("together_queue.cli.commands", "cmd_status"),
    "cancel": ("together_queue.cli.commands", "cmd_cancel"),
    "wait": ("together_queue.cli.commands", "cmd_wait"),
    "metrics": ("together_queue.cli.commands", "cmd_metrics"),
    "clear": ("together_queue.cli.clear", "cmd_clear"),
    "demo": ("together_queue.cli.demo", "cmd_demo"),
    "download": ("together_queue.cli.download", "cmd_download"),
}


def _json_option(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    parser.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="print machine-readable JSON on stdout",
    )


def _global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    # Accepted before and after the command; after it, SUPPRESS keeps argparse
    # from overwriting a value given before it with the default.
    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument(
        "--base-url",
        metavar="URL",
        default=default(None),
        help="API root (default: $TOGETHER_BASE_URL, else https://api.together.ai)",
    )
    parser.add_argument(
        "--api-key",
        metavar="KEY",
        default=default(None),
        help="API key (default: $TOGETHER_API_KEY; prefer the variable: "
        "arguments are visible to other users of this machine)",
    )
    # Repeatable options count both before and after the command: after it they collect
    # under their own names, which `_merge_repeated` adds to the ones before it.
    parser.add_argument(
        "--header",
        dest="command_header" if suppress else "header",
        metavar="'NAME: VALUE'",
        action="append",
        type=header_arg,
        default=default([]),
        help="send this header with every API request (repeatable; not with downloads, "
        "nor Authorization: the key goes through --api-key)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        dest="command_verbose" if suppress else "verbose",
        action="count",
        default=default(0),
        help="log retries on stderr (-vv: every request, with its http request id)",
    )
    _json_option(parser, suppress=suppress)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `together-queue` (the `emulator` command is delegated)."""
    parser = argparse.ArgumentParser(
        prog="together-queue",
        description="Submit, watch and manage Together Queue jobs.",
        epilog="exit codes: 0 ok, 1 job failed/canceled, 2 usage, 3 API/network error, "
        "4 wait timed out (--timeout; the job goes on), 130 interrupted. "
        "Try `together-queue demo`: no API key, no network.",
    )
    parser.add_argument("--version", action="version", version=f"together-queue {__version__}")
    _global_options(parser, suppress=False)
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, suppress=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    submit = commands.add_parser(
        "submit",
        parents=[common],
        help="submit one job (--payload) or many (--file jobs.jsonl)",
        description="Submit one job, or every line of a JSON Lines file. A line with a "
        '"payload" key is a full request (payload object; other keys only model, priority, '
        "info: any other key makes the line invalid); otherwise the whole line is the payload "
        "for --model. Blank lines are skipped and get no record. --resume checks that "
        "--output belongs to this --file (its header and a digest per line) before sending.",
    )
    source = submit.add_mutually_exclusive_group(required=True)
    source.add_argument("--payload", metavar="JSON", help="the payload: JSON, @file.json or @-")
    source.add_argument("--file", metavar="JOBS.jsonl", help="submit every line of this file")
    submit.add_argument(
        "--model", type=model_arg, help="model (lines of --file may name their own)"
    )
    submit.add_argument("--priority", type=int, default=0, help="higher runs first (default 0)")
    submit.add_argument("--info", metavar="JSON", help="info object: JSON, @file.json or @-")
    submit.add_argument("--wait", action="store_true", help="wait and print the final status")
    submit.add_argument(
        "--timeout",
        type=positive_float,
        metavar="S",
        help="give up waiting after S seconds (exit code 4; the jobs go on)",
    )
    submit.add_argument(
        "--concurrency",
        type=positive_int,
        default=16,
        metavar="N",
        help="--file: requests in flight (16)",
    )
    submit.add_argument("--output", metavar="RESULTS.jsonl", help="--file: write results here")
    submit.add_argument(
        "--resume", action="store_true", help="--file: skip lines --output records as submitted"
    )

    for name, text in (
        ("status", "print a job's current status"),
        ("cancel", "cancel a pending job"),
        ("wait", "wait for a job to finish and print its final status"),
    ):
        sub = commands.add_parser(name, parents=[common], help=text, description=text + ".")
        sub.add_argument("request_id", metavar="REQUEST_ID", type=request_id_arg)
        sub.add_argument("--model", type=model_arg, required=True)
        if name == "wait":
            sub.add_argument(
                "--timeout",
                type=positive_float,
                metavar="S",
                help="give up after S seconds: exit code 4 (the job goes on)",
            )

    metrics = commands.add_parser(
        "metrics",
        parents=[common],
        help="queue depth of a model",
        description="Queue depth of a model.",
    )
    metrics.add_argument("--model", type=model_arg, required=True)
    metrics.add_argument("--watch", action="store_true", help="print the metrics periodically")
    metrics.add_argument(
        "--interval", type=positive_float, metavar="S", help="--watch: seconds between samples (2)"
    )
    metrics.add_argument(
        "--count", type=positive_int, metavar="N", help="--watch: stop after N samples"
    )

    clear_command.add_parser(commands, common)
    download_command.add_download_parser(commands, common)

    # The demo talks only to its own emulator: --base-url and --api-key mean nothing there.
    demo_options = argparse.ArgumentParser(add_help=False)
    _json_option(demo_options, suppress=True)
    commands.add_parser(
        "demo",
        parents=[demo_options],
        help="run the whole product on an embedded emulator (no API key, no network)",
        description="Start an emulator on a free loopback port, submit a mixed batch of jobs, "
        "show them being processed in priority order, and check the results.",
    )
    # Listed for --help only: main() hands `emulator ...` to the emulator's CLI when it
    # is the first word; reaching argparse means options came before it (a usage error).
    commands.add_parser(
        "emulator",
        help="run the local Queue emulator (`together-queue emulator --help`; "
        "options go after `emulator`)",
        add_help=False,
    )
    return parser


def _run_emulator(argv: list[str]) -> int:
    try:
        module = importlib.import_module("together_queue.emulator.cli")
    except ModuleNotFoundError as exc:
        if exc.name and not exc.name.startswith("together_queue"):
            print(_EMULATOR_HINT, file=sys.stderr)
            return 2
        print(
            "error: this installation has no emulator (together_queue.emulator.cli)",
            file=sys.stderr,
        )
        return 2
    return int(module.main(argv))


def main(argv: Sequence[str] | None = None) -> int:
    """Run `together-queue` with `argv` (default: the process arguments); return the exit code."""
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == ["emulator"]:
        return _run_emulator(words[1:])
    parser = build_parser()
    # `--api-key K emulator --port 0` must get the hint below, not a complaint about
    # --port; otherwise parse strictly, so that errors show the command's own usage.
    unknown: list[str] = []
    if "emulator" in words:
        args, unknown = parser.parse_known_args(words)
    else:
        args = parser.parse_args(words)
    if args.command == "emulator":
        parser.error(
            "global options do not apply to `emulator`: put its options after it, "
            "e.g. `together-queue emulator --api-key KEY` (see `together-queue emulator --help`)"
        )
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    module, function = _COMMANDS[args.command]
    _merge_repeated(args)
    verbose = args.verbose
    if verbose:
        from together_queue._logging import setup_logging

        setup_logging("debug" if verbose > 1 else "info")
    secrets = (getattr(args, "api_key", None), os.environ.get("TOGETHER_API_KEY"))
    try:
        handler: Callable[[argparse.Namespace], int] = getattr(
            importlib.import_module(module), function
        )
        return handler(args)
    except BaseException as exc:  # mapped to an exit code; unexpected ones are re-raised
        return _exit_code(exc, secrets)


def _merge_repeated(args: argparse.Namespace) -> None:
    """Add the `--header`s and `-v`s given after the command to the ones before it."""
    args.header = [*getattr(args, "header", []), *getattr(args, "command_header", [])]
    args.verbose = getattr(args, "verbose", 0) + getattr(args, "command_verbose", 0)


def _exit_code(exc: BaseException, secrets: tuple[str | None, ...]) -> int:
    """Report an error as `error: ...` on stderr and map it to an exit code (or re-raise)."""
    from together_queue.cli.common import (
        EXIT_API,
        EXIT_INTERRUPTED,
        EXIT_JOB,
        EXIT_USAGE,
        UsageError,
        redact_all,
    )
    from together_queue.cli.output import printable
    from together_queue.errors import JobFailed, TogetherQueueError

    if isinstance(exc, KeyboardInterrupt):
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    if isinstance(exc, BrokenPipeError):
        # The reader went away (e.g. `| head`): nothing more to say, and nowhere to say it.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_API
    if isinstance(exc, UsageError):
        code = EXIT_USAGE
    elif isinstance(exc, JobFailed):
        code = EXIT_JOB
    elif isinstance(exc, TogetherQueueError | OSError):
        code = EXIT_API
    else:
        raise exc
    message = redact_all(str(exc) or type(exc).__name__, secrets)
    print(f"error: {printable(message)}", file=sys.stderr)
    return code
