"""What every `together-queue` command shares: exit codes, argument parsing helpers, the client.

Imported only by the CLI, never by `import together_queue`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from together_queue._json import reject_constant

if TYPE_CHECKING:
    from together_queue._polling import PollPolicy
    from together_queue.client import AsyncQueueClient, QueueClient

EXIT_OK: Final = 0
"""Everything asked for happened."""
EXIT_JOB: Final = 1
"""A job failed or was canceled (or could not be canceled, for `cancel`)."""
EXIT_USAGE: Final = 2
"""The command line or an input file is wrong (argparse uses 2 as well)."""
EXIT_API: Final = 3
"""The service, the network or the local system failed (any non-outcome error)."""
EXIT_TIMEOUT: Final = 4
"""Waiting ran out of time (`--timeout`): the job goes on, and can be waited on again."""
EXIT_INTERRUPTED: Final = 130
"""Ctrl-C (128 + SIGINT, as shells report it)."""


class UsageError(Exception):
    """A command-line argument or input file is wrong: `error: <message>`, exit 2."""


def loads_strict(text: str) -> Any:
    """`json.loads` that rejects NaN and Infinity (the wire format does not allow them)."""
    return json.loads(text, parse_constant=reject_constant)


def read_json_object(value: str, option: str) -> dict[str, Any]:
    """A JSON object from an option value: inline JSON, `@file.json`, or `@-` for stdin."""
    if value.startswith("@"):
        source = value[1:]
        try:
            text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"{option}: cannot read {source!r}: {exc.strerror or exc}") from None
    else:
        text = value
    try:
        data = loads_strict(text)
    except ValueError as exc:
        raise UsageError(f"{option}: not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{option}: expected a JSON object, got {json_type(data)}")
    return data


def json_type(value: object) -> str:
    """The JSON name of a decoded value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def model_arg(text: str) -> str:
    """Argparse type for `--model`: a non-blank model name."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def request_id_arg(text: str) -> str:
    """Argparse type for a request id: non-blank, no surrounding whitespace."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    if text != text.strip():
        raise argparse.ArgumentTypeError(f"must not start or end with whitespace, got {text!r}")
    return text


def header_arg(text: str) -> tuple[str, str]:
    """Argparse type for `--header 'Name: value'`: the name and the value, stripped."""
    name, colon, value = text.partition(":")
    if not colon or not name.strip():
        raise argparse.ArgumentTypeError(f"expected 'Name: value', got {text!r}")
    return name.strip(), value.strip()


def positive_float(text: str) -> float:
    """Argparse type for a number of seconds > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """Argparse type for a count >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def make_client(args: argparse.Namespace, *, poll: PollPolicy | None = None) -> QueueClient:
    """A `QueueClient` from `--base-url`/`--api-key`, falling back to the library's env vars.

    A configuration the library refuses is a usage error (exit 2), worded for the CLI.
    """
    from together_queue.client import QueueClient

    with _usage_errors():
        return QueueClient(**_client_args(args), poll=poll)


def make_async_client(args: argparse.Namespace) -> AsyncQueueClient:
    """`make_client`'s `AsyncQueueClient`, for the bulk submit: one thread, no lock contention."""
    from together_queue.client import AsyncQueueClient

    with _usage_errors():
        return AsyncQueueClient(**_client_args(args))


def _client_args(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "api_key": args.api_key,
        "base_url": args.base_url,
        "default_headers": dict(getattr(args, "header", None) or ()),
    }


@contextlib.contextmanager
def _usage_errors() -> Iterator[None]:
    """A client configuration the library refuses, as a usage error worded for the CLI."""
    from together_queue.errors import InsecureTransportError

    try:
        yield
    except InsecureTransportError as exc:
        raise UsageError(
            f"{exc}. The CLI has no opt-in for that: use an https:// URL "
            "(plain http:// is accepted only for a loopback host such as 127.0.0.1)"
        ) from None
    except ValueError as exc:  # ConfigurationError is a ValueError
        text = (
            str(exc)
            .replace("base_url", "--base-url")
            .replace("api_key=...", "--api-key")
            .replace("default_headers", "--header")
        )
        raise UsageError(text) from None


def secrets_of(args: argparse.Namespace) -> tuple[str, ...]:
    """The API keys this run may know (`--api-key`, `$TOGETHER_API_KEY`): never to be shown."""
    found = (getattr(args, "api_key", None), os.environ.get("TOGETHER_API_KEY"))
    return tuple(s for s in found if s)


def redact(message: str, secret: str | None) -> str:
    """`message` with `secret` replaced by `***` (belt and braces: the library never shows it)."""
    if secret and len(secret) >= 4:
        return message.replace(secret, "***")
    return message


def redact_all(message: str, secrets: tuple[str | None, ...]) -> str:
    """`message` with every one of `secrets` (and its stripped form) replaced by `***`."""
    for secret in secrets:
        message = redact(message, secret)
        message = redact(message, secret.strip() if secret else None)
    return message
