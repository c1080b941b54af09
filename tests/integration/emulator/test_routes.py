"""The route table is the one list of routes: the app serves it, the docs show it."""

from __future__ import annotations

import sys
from pathlib import Path

from starlette.routing import BaseRoute, Mount, Route

from together_queue.emulator.app import create_app
from together_queue.emulator.cli import build_parser
from together_queue.emulator.config import MAX_CLAIM_TIMEOUT, EmulatorConfig
from together_queue.emulator.faults import FAULT_SYNTAX, OPERATIONS
from together_queue.emulator.ratelimit import RATE_LIMIT_SYNTAX
from together_queue.emulator.routes import ROUTES, operation_of
from together_queue.emulator.runtime import MAX_POLL_SECONDS

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tools"))

from emulator_docs import GUIDE, render  # noqa: E402


def _served(routes: list[BaseRoute], prefix: str = "") -> list[tuple[str, str, str | None]]:
    found: list[tuple[str, str, str | None]] = []
    for route in routes:
        if isinstance(route, Mount):
            found += _served(route.routes, prefix + route.path)
        elif isinstance(route, Route):
            found += [(method, prefix + route.path, route.name) for method in route.methods or ()]
    return found


def test_the_app_serves_exactly_the_route_table() -> None:
    served = [
        (method, path, name)
        for method, path, name in _served(create_app(EmulatorConfig()).routes)
        if method != "HEAD"  # Starlette adds HEAD to every GET
    ]
    table = [(route.method, route.full_path, route.name) for route in ROUTES]
    assert sorted(served) == sorted(table)
    assert served[-1] == ("GET", "/", "page")  # the catch-all mount comes last


def test_operations_come_from_the_route_table() -> None:
    assert OPERATIONS == ("submit", "status", "cancel", "metrics", "clear", "retrieve", "update")
    assert operation_of("POST", "/v1/queue/clear") == "clear"
    assert operation_of("GET", "/internal/v1/rabbitmq/retrieve") == "retrieve"
    assert operation_of("GET", "/_emulator/jobs") is None


def test_the_retrieve_summary_states_the_limits_in_force() -> None:
    (retrieve,) = [route for route in ROUTES if route.name == "retrieve"]
    assert f"at most {MAX_POLL_SECONDS:g} s" in retrieve.summary
    assert f"at most {MAX_CLAIM_TIMEOUT:g} s" in retrieve.summary


def test_the_cli_help_is_the_one_fault_and_rate_limit_syntax() -> None:
    text = build_parser().format_help()
    for line in (*FAULT_SYNTAX.splitlines(), *RATE_LIMIT_SYNTAX.splitlines()):
        assert line.strip() in text, line
    op_line = next(line for line in text.splitlines() if line.strip().startswith("OP "))
    assert all(operation in op_line for operation in OPERATIONS), op_line


def test_the_guide_lists_every_route_and_both_syntaxes_as_generated() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    assert render(text) == text, "docs/guides/emulator.md is stale: python tools/emulator_docs.py"
    for route in ROUTES:
        assert f"`{route.method} {route.full_path}`" in text
