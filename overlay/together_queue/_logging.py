"""The `together_queue` logger: its lines about requests and retries, and `TOGETHER_LOG`.

`TOGETHER_LOG=debug` logs one line per HTTP exchange (method, path, status, elapsed
time, the server's `x-request-id`); `TOGETHER_LOG=info` logs each retry (why, how long
until it, how many attempts are left). The variable only takes effect when the
application has not set up the logger itself (no level, no handler of its own).

A line is built from the method, the path without its query, the status code and
the request id: never from a header value, a body or a URL query, so it cannot
carry the API key or a payload.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import Final

__all__ = [
    "LOG_ENV",
    "REQUEST_ID_HEADER",
    "http_request_id",
    "log_response",
    "log_retry",
    "logger",
    "setup_from_env",
    "setup_logging",
]

LOG_ENV: Final = "TOGETHER_LOG"
REQUEST_ID_HEADER: Final = "x-request-id"
_LEVELS: Final = {"debug": logging.DEBUG, "info": logging.INFO}
_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# A server's request id is echoed into log lines and messages: keep it one short token.
_MAX_ID_LENGTH: Final = 128

logger = logging.getLogger("together_queue")
_env_checked = False


def setup_logging(level: str | int) -> bool:
    """Send the `together_queue` logger's lines at `level` and above to stderr.

    `level` is `"debug"`, `"info"` or a `logging` level number. Does nothing when the
    application has set the logger's level or given it a handler; adds a stderr handler
    only when no handler would otherwise show the lines. Returns True when it acted.
    """
    number = _LEVELS.get(level.strip().lower()) if isinstance(level, str) else level
    if not isinstance(number, int) or isinstance(number, bool):
        raise ValueError(f"log level must be 'debug' or 'info', got {level!r}")
    if logger.level != logging.NOTSET or logger.handlers:
        return False
    logger.setLevel(number)
    if not logger.hasHandlers():
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(_FORMAT))
        logger.addHandler(handler)
    return True


def setup_from_env() -> None:
    """Apply `TOGETHER_LOG` (`debug` or `info`) once per process; other values are ignored."""
    global _env_checked
    if _env_checked:
        return
    _env_checked = True
    level = _LEVELS.get(os.environ.get(LOG_ENV, "").strip().lower())
    if level is not None:
        setup_logging(level)


def http_request_id(headers: Mapping[str, str]) -> str | None:
    """The server's id for one HTTP exchange (`x-request-id`), not a job's `request_id`."""
    value = headers.get(REQUEST_ID_HEADER)
    if not value:
        return None
    value = value.strip()
    return value[:_MAX_ID_LENGTH] if value.isprintable() else None


def log_response(
    method: str, path: str, status_code: int, elapsed: float, request_id: str | None
) -> None:
    """Debug: one exchange, `elapsed` in seconds, `path` without its query."""
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "%s %s -> %d in %.1f ms (http_request_id=%s)",
            method,
            path,
            status_code,
            elapsed * 1000,
            request_id or "-",
        )


def log_retry(
    method: str,
    path: str,
    *,
    reason: str,
    delay: float,
    attempts_left: int,
    request_id: str | None = None,
) -> None:
    """Info: a retry of `method path` in `delay` seconds, after `reason`."""
    logger.info(
        "retrying %s %s in %.2fs after %s (%d attempts left, http_request_id=%s)",
        method,
        path,
        delay,
        reason,
        attempts_left,
        request_id or "-",
    )
