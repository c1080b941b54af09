"""The `together_queue` logger: `TOGETHER_LOG`, and what a request or a retry line says."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from together_queue import _logging


@pytest.fixture
def pristine_logger() -> Iterator[logging.Logger]:
    """The package logger with no level or handler; restored afterwards."""
    log = logging.getLogger("together_queue")
    saved = (log.level, list(log.handlers), log.propagate, _logging._env_checked)
    log.setLevel(logging.NOTSET)
    log.handlers.clear()
    _logging._env_checked = False
    try:
        yield log
    finally:
        log.setLevel(saved[0])
        log.handlers[:] = saved[1]
        log.propagate = saved[2]
        _logging._env_checked = saved[3]


@pytest.mark.parametrize(("value", "level"), [("debug", logging.DEBUG), (" INFO ", logging.INFO)])
def test_together_log_sets_the_level_and_a_stderr_handler(
    pristine_logger: logging.Logger,
    monkeypatch: pytest.MonkeyPatch,
    value: str,
    level: int,
) -> None:
    monkeypatch.setenv("TOGETHER_LOG", value)
    monkeypatch.setattr(logging.getLogger(), "handlers", [])  # an application without logging
    _logging.setup_from_env()
    assert pristine_logger.level == level
    assert [type(h) for h in pristine_logger.handlers] == [logging.StreamHandler]


def test_together_log_leaves_a_logger_the_application_set_up(
    pristine_logger: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    pristine_logger.setLevel(logging.WARNING)
    monkeypatch.setenv("TOGETHER_LOG", "debug")
    _logging.setup_from_env()
    assert pristine_logger.level == logging.WARNING
    assert pristine_logger.handlers == []


def test_an_application_handler_on_the_root_gets_the_lines_without_a_second_handler(
    pristine_logger: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    root_handler = logging.NullHandler()
    monkeypatch.setattr(logging.getLogger(), "handlers", [root_handler])
    assert _logging.setup_logging("debug")
    assert pristine_logger.level == logging.DEBUG
    assert pristine_logger.handlers == []  # the root's handler shows them


@pytest.mark.parametrize("value", ["", "trace", "1"])
def test_other_values_of_together_log_are_ignored(
    pristine_logger: logging.Logger, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("TOGETHER_LOG", value)
    _logging.setup_from_env()
    assert pristine_logger.level == logging.NOTSET


def test_a_bad_level_in_code_is_a_value_error(pristine_logger: logging.Logger) -> None:
    with pytest.raises(ValueError, match="'debug' or 'info'"):
        _logging.setup_logging("verbose")


def test_request_and_retry_lines_name_the_exchange(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="together_queue")
    _logging.log_response("GET", "/queue/status", 404, 0.0123, "req_abc")
    _logging.log_retry(
        "POST", "/queue/cancel", reason="HTTP 503", delay=0.5, attempts_left=2, request_id=None
    )
    debug, info = caplog.records
    assert debug.levelno == logging.DEBUG
    assert debug.getMessage() == "GET /queue/status -> 404 in 12.3 ms (http_request_id=req_abc)"
    assert info.levelno == logging.INFO
    assert info.getMessage() == (
        "retrying POST /queue/cancel in 0.50s after HTTP 503 (2 attempts left, http_request_id=-)"
    )


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-request-id": " req_1 "}, "req_1"),
        ({}, None),
        ({"x-request-id": ""}, None),
        ({"x-request-id": "a\x1b[31mb"}, None),  # a terminal escape is not an id
        ({"x-request-id": "x" * 500}, "x" * 128),
    ],
)
def test_http_request_id_is_one_short_printable_token(
    headers: dict[str, str], expected: str | None
) -> None:
    assert _logging.http_request_id(headers) == expected
