"""The `together-queue emulator` command (also `python -m together_queue.emulator`).

Importing this module is cheap: starlette and uvicorn load only when the command runs,
so the main CLI can mount `build_parser()` without the `[emulator]` extra installed.
It imports nothing from `together_queue.cli`, which loads it only when the command runs.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sqlite3
import ssl
import sys
from collections.abc import Mapping, Sequence

import attrs

from together_queue._config import is_loopback_host
from together_queue._extras import INSTALL_EMULATOR
from together_queue.emulator.config import (
    DEFAULT_CLAIM_TIMEOUT,
    LOOPBACK_NAMES,
    MAX_CLAIM_TIMEOUT,
    MAX_PORT,
    EmulatorConfig,
    parse_model_spec,
)
from together_queue.emulator.faults import FAULT_SYNTAX, FaultPlan
from together_queue.emulator.ratelimit import RATE_LIMIT_SYNTAX, RateLimit, parse_rate_limit

__all__ = ["API_KEYS_ENV", "add_arguments", "build_parser", "config_from_args", "main"]

API_KEYS_ENV = "TOGETHER_QUEUE_EMULATOR_API_KEYS"
"""Environment variable with API keys the emulator accepts (comma-separated).

Its own name, not `TOGETHER_API_KEY`: a real Together key in the environment must
not silently turn on auth in a local emulator (nor end up in its memory).
"""

_EXIT_NETWORK = 3
"""The bind failed: a network error (`together-queue`'s exit code 3; 1 means a job failed)."""

_FAULT_HELP = f"""\
fault injection (repeatable), off by default:
{FAULT_SYNTAX}
faults strike HTTP calls only: the in-process workers of --model never see them"""

_RATE_LIMIT_HELP = f"""\
token bucket on an operation (repeatable), off by default:
{RATE_LIMIT_SYNTAX}"""


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


def _rate_limit(text: str) -> RateLimit:
    try:
        return parse_rate_limit(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _claim_timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and 0 < value <= MAX_CLAIM_TIMEOUT):
        raise argparse.ArgumentTypeError(
            f"must be above 0 and at most {MAX_CLAIM_TIMEOUT:g} seconds: {text!r}"
        )
    return value


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
    """Add the emulator's options to `parser` (for mounting as a subcommand)."""
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
        help="require Authorization: Bearer KEY (repeatable; default: no auth); "
        f"keys also come from --api-key-file and ${API_KEYS_ENV} (comma-separated), "
        "which `ps` does not show",
    )
    parser.add_argument(
        "--api-key-file",
        dest="api_key_files",
        action="append",
        default=[],
        metavar="PATH",
        help="read accepted API keys from PATH, one per line (# comments and blank "
        "lines ignored; repeatable)",
    )
    parser.add_argument(
        "--claim-timeout",
        type=_claim_timeout,
        default=DEFAULT_CLAIM_TIMEOUT,
        metavar="S",
        help="seconds a claim lasts without an update when the worker asks for no "
        f"claim_timeout (default {DEFAULT_CLAIM_TIMEOUT:g}: holds a few-minute job "
        f"of a worker that sends no heartbeat); a claim lasts at most {MAX_CLAIM_TIMEOUT:g}",
    )
    parser.add_argument(
        "--allowed-host",
        dest="allowed_hosts",
        action="append",
        default=[],
        metavar="NAME",
        help=f"also answer requests whose Host header is NAME (repeatable; * for any); "
        f"by default only {', '.join(LOOPBACK_NAMES)} and the --host address, so that a "
        "web page cannot reach the emulator through a DNS name it controls",
    )
    parser.add_argument(
        "--ssl-certfile",
        metavar="PATH",
        help="serve HTTPS with this PEM certificate (needs --ssl-keyfile)",
    )
    parser.add_argument(
        "--ssl-keyfile", metavar="PATH", help="the PEM private key of --ssl-certfile"
    )
    parser.add_argument(
        "--tls-self-signed",
        metavar="DIR",
        help="serve HTTPS with a local CA and a localhost certificate written into DIR "
        "(kept across runs); trust it with SSL_CERT_FILE=DIR/ca.pem",
    )
    parser.add_argument(
        "--max-upload-bytes",
        type=_non_negative_int,
        default=100_000_000,
        metavar="N",
        help="largest file a worker may upload to /v1/storage (default 100000000)",
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
        "--rate-limit",
        dest="rate_limits",
        type=_rate_limit,
        action="append",
        default=[],
        metavar="SPEC",
        help=_RATE_LIMIT_HELP,
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
    """The argument parser of `together-queue emulator`."""
    parser = argparse.ArgumentParser(
        prog="together-queue emulator",
        description="Run a local Together Queue service (the public API under /v1, the "
        "worker API under /internal/v1, test helpers under /_emulator; every route is "
        "listed in docs/guides/emulator.md).",
        formatter_class=argparse.RawTextHelpFormatter,
    )
    add_arguments(parser)
    return parser


def _read_key_file(path: str) -> list[str]:
    """The keys in `path`: one per line, blank lines and `#` comments skipped."""
    with open(path, encoding="utf-8") as lines:
        keys = [line.strip() for line in lines]
    return [key for key in keys if key and not key.startswith("#")]


def api_keys_from(args: argparse.Namespace, environ: Mapping[str, str]) -> tuple[str, ...]:
    """Every accepted key: `--api-key`, `--api-key-file` and `$API_KEYS_ENV`.

    OSError or UnicodeDecodeError when a key file cannot be read.
    """
    keys = list(args.api_keys)
    for path in args.api_key_files:
        keys.extend(_read_key_file(path))
    keys.extend(part.strip() for part in environ.get(API_KEYS_ENV, "").split(","))
    return tuple(dict.fromkeys(key for key in keys if key))  # deduplicated, in order


def config_from_args(
    args: argparse.Namespace, environ: Mapping[str, str] | None = None
) -> EmulatorConfig:
    """The EmulatorConfig that parsed options (and `environ`'s API keys) describe.

    ValueError for options that contradict each other; OSError for an unreadable key file.
    """
    if args.tls_self_signed and (args.ssl_certfile or args.ssl_keyfile):
        raise ValueError("--tls-self-signed makes its own certificate: drop --ssl-certfile")
    if bool(args.ssl_certfile) != bool(args.ssl_keyfile):
        raise ValueError("--ssl-certfile and --ssl-keyfile go together: give both")
    return EmulatorConfig(
        host=args.host,
        port=args.port,
        db=args.db,
        workers=args.workers,
        models=dict(args.models),
        api_keys=api_keys_from(args, os.environ if environ is None else environ),
        claim_timeout=args.claim_timeout,
        ssl_certfile=args.ssl_certfile,
        ssl_keyfile=args.ssl_keyfile,
        max_upload_bytes=args.max_upload_bytes,
        max_body_bytes=args.max_body_bytes,
        faults=FaultPlan.parse(args.faults, seed=args.fault_seed),
        rate_limits=tuple(args.rate_limits),
        max_retries=args.max_retries,
        allowed_hosts=tuple(args.allowed_hosts),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the emulator until Ctrl-C or SIGTERM; the exit status (0 on a clean stop)."""
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        print(f"together-queue emulator: {exc}", file=sys.stderr)
        return 2
    try:
        from together_queue.emulator.server import bind_socket, serve_forever, url_of
    except ImportError as exc:
        hint = f"install it with {INSTALL_EMULATOR}"
        print(f"together-queue emulator: {exc}; {hint}", file=sys.stderr)
        return 2
    if not is_loopback_host(config.host):
        print(
            f"warning: binding to {config.host}: the emulator is a test service, anyone "
            "who can reach this address can use it (by a name in Host that is loopback, "
            "the --host address or an --allowed-host)",
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
        return _EXIT_NETWORK
    trust_hint = ""
    if args.tls_self_signed:
        from together_queue.emulator.tls import write_self_signed

        try:
            files = write_self_signed(args.tls_self_signed)
        except OSError as exc:
            sock.close()
            print(f"together-queue emulator: --tls-self-signed: {exc}", file=sys.stderr)
            return 2
        config = attrs.evolve(config, ssl_certfile=str(files.cert), ssl_keyfile=str(files.key))
        trust_hint = (
            f"clients and workers trust it with SSL_CERT_FILE={files.ca} "
            f"(or ssl.create_default_context(cafile={str(files.ca)!r}))"
        )
    if config.ssl_certfile is not None and config.ssl_keyfile is not None:
        try:
            # Load them now: uvicorn would fail later, with a traceback, after the bind.
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
                config.ssl_certfile, config.ssl_keyfile
            )
        except (OSError, ssl.SSLError) as exc:
            sock.close()
            print(
                f"together-queue emulator: cannot use {config.ssl_certfile} and "
                f"{config.ssl_keyfile}: {exc}",
                file=sys.stderr,
            )
            return 2
    url = url_of(sock, config.scheme)

    def announce() -> None:
        print(f"together-queue emulator listening on {url}", flush=True)
        for line in _served_models_lines(config):
            print(line, flush=True)
        if trust_hint:
            print(trust_hint, flush=True)
        print(f"dashboard: {url}/ (open it in a browser)", flush=True)
        if not config.api_keys:
            print(
                "warning: no API key (--api-key): every program on this machine that can "
                f"reach {url} can submit, claim and read jobs",
                file=sys.stderr,
                flush=True,
            )

    _log_to_stderr(args.log_level)
    try:
        serve_forever(config, sock, announce, log_level=args.log_level)
    except (ValueError, sqlite3.Error, OSError) as exc:  # a bad handler, database or cert
        print(f"together-queue emulator: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass  # Ctrl-C before the server took over the signal: still a clean stop
    finally:
        sock.close()
    return 0


def _log_to_stderr(level: str) -> None:
    """Send the emulator's own log (claims at debug, warnings) to stderr at `level`."""
    logger = logging.getLogger("together_queue.emulator")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False


def _served_models_lines(config: EmulatorConfig) -> list[str]:
    """What the startup banner says about models: which run in process, and the rest."""
    served = ", ".join(f"{name} ({handler})" for name, handler in sorted(config.models.items()))
    return [
        f"models served in process: {served or 'none'}",
        "any other model waits for an external worker polling "
        "/internal/v1/queue/retrieve?model=NAME",
    ]
