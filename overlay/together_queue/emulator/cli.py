"""The ``together-queue emulator`` command (also ``python -m together_queue.emulator``).

Importing this module is cheap: starlette and uvicorn load only when the command runs,
so the main CLI can mount ``build_parser()`` without the ``[emulator]`` extra installed.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Sequence

from together_queue._cli_common import EXIT_API, positive_float
from together_queue.emulator.config import (
    MAX_PORT,
    EmulatorConfig,
    is_loopback_host,
    parse_model_spec,
)
from together_queue.emulator.faults import FaultPlan

__all__ = ["add_arguments", "build_parser", "config_from_args", "main"]

_FAULT_HELP = """\
fault injection (repeatable), off by default: OP:KIND:AMOUNT[:WHEN][:OPTION...]
  OP      submit|status|cancel|metrics|retrieve|update|*
  KIND    500 | 429 (with Retry-After) | drop (cut the connection) | latency
  AMOUNT  probability 0..1 per call (seeded by --fault-seed), or next=N (the next N calls)
  WHEN    before (the operation does not happen; default) | after (it happens, the
          answer is lost)
  OPTION  retry_after=SECONDS (429, default 1) | seconds=S (latency, default 0.1)
examples: submit:500:0.1:after  status:429:next=2:retry_after=3  *:latency:1:seconds=0.05
faults strike HTTP calls only: the in-process workers of --model never see them"""


def _model(text: str) -> tuple[str, str]:
    try:
        return parse_model_spec(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _fault(text: str) -> str:
    try:
        FaultPlan.parse([text])
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0: {text!r}")
    return value


def _port(text: str) -> int:
    value = _non_negative_int(text)
    if value > MAX_PORT:
        raise argparse.ArgumentTypeError(f"must be within 0..{MAX_PORT}: {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the emulator's options to ``parser`` (for mounting as a subcommand)."""
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, loopback only)"
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=8000,
        help="port to bind; 0 picks a free one (default 8000)",
    )
    parser.add_argument(
        "--db", metavar="PATH", help="SQLite file keeping jobs across restarts (default: in memory)"
    )
    parser.add_argument(
        "--workers",
        type=_non_negative_int,
        default=2,
        metavar="N",
        help="in-process worker tasks per model with a handler (default 2)",
    )
    parser.add_argument(
        "--model",
        dest="models",
        type=_model,
        action="append",
        default=[],
        metavar="NAME=HANDLER",
        help="serve model NAME in process with HANDLER: echo, sleep, fail or "
        "module:func (repeatable); other models wait for external workers",
    )
    parser.add_argument(
        "--api-key",
        dest="api_keys",
        action="append",
        default=[],
        metavar="KEY",
        help="require Authorization: Bearer KEY (repeatable; default: no auth)",
    )
    parser.add_argument(
        "--claim-timeout",
        type=positive_float,
        default=30.0,
        metavar="S",
        help="seconds a worker's claim lasts without an update (default 30)",
    )
    parser.add_argument(
        "--max-retries",
        type=_non_negative_int,
        default=3,
        metavar="N",
        help="lapsed claims a job survives before failing for good (default 3)",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=_non_negative_int,
        default=1_000_000,
        metavar="N",
        help="largest request body accepted (default 1000000)",
    )
    parser.add_argument(
        "--fault",
        dest="faults",
        type=_fault,
        action="append",
        default=[],
        metavar="SPEC",
        help=_FAULT_HELP,
    )
    parser.add_argument(
        "--fault-seed",
        type=int,
        default=0,
        metavar="N",
        help="seed of the fault RNG, for reproducible runs (default 0)",
    )
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug"],
        help="server log level, on stderr (default warning)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``together-queue emulator``."""
    parser = argparse.ArgumentParser(
        prog="together-queue emulator",
        description="Run a local Together Queue service (the public API under /v1, the "
        "worker API under /internal/v1, test helpers under /_emulator).",
        formatter_class=argparse.RawTextHelpFormatter,
    )
    add_arguments(parser)
    return parser


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    """The EmulatorConfig that parsed options describe."""
    return EmulatorConfig(
        host=args.host,
        port=args.port,
        db=args.db,
        workers=args.workers,
        models=dict(args.models),
        api_keys=tuple(args.api_keys),
        claim_timeout=args.claim_timeout,
        max_body_bytes=args.max_body_bytes,
        faults=FaultPlan.parse(args.faults, seed=args.fault_seed),
        max_retries=args.max_retries,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the emulator until Ctrl-C or SIGTERM; the exit status (0 on a clean stop)."""
    args = build_parser().parse_args(argv)
    config = config_from_args(args)
    try:
        from together_queue.emulator.server import bind_socket, serve_forever, url_of
    except ImportError as exc:
        print(
            f"together-queue emulator: {exc}; install it with "
            "pip install 'together-queue[emulator]'",
            file=sys.stderr,
        )
        return 2
    if not is_loopback_host(config.host):
        print(
            f"warning: binding to {config.host}: the emulator is a test service, anyone "
            "who can reach this address can use it",
            file=sys.stderr,
            flush=True,
        )
    try:
        sock = bind_socket(config.host, config.port)
    except OSError as exc:
        print(
            f"together-queue emulator: cannot bind {config.host}:{config.port}: {exc}",
            file=sys.stderr,
        )
        return EXIT_API  # a network error: 1 would mean "a job failed"
    url = url_of(sock)

    def announce() -> None:
        print(f"together-queue emulator listening on {url}", flush=True)

    try:
        serve_forever(config, sock, announce, log_level=args.log_level)
    except (ValueError, sqlite3.Error) as exc:  # an unloadable handler, an unusable database
        print(f"together-queue emulator: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass  # Ctrl-C before the server took over the signal: still a clean stop
    finally:
        sock.close()
    return 0
