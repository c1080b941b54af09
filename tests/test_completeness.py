"""The completeness guard: no operation of openapi.yaml lands half-done.

For every operation the spec declares, the project must offer the same word at
every layer: a method on `QueueClient` and on `AsyncQueueClient` with the same
parameters (and a parameter for each field the operation takes), a route in the
emulator, and a `together-queue` command. The word is the last segment of the
operation's path (`/queue/clear` -> `clear`), the one vocabulary of the project.
A spec change that adds an operation fails here, naming what is still missing.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.routing import BaseRoute, Mount, Route

from together_queue import AsyncQueueClient, QueueClient
from together_queue.cli import build_parser
from together_queue.emulator.app import create_app
from together_queue.emulator.config import EmulatorConfig

SPEC = Path(__file__).resolve().parent.parent / "openapi.yaml"
HTTP_METHODS = ("get", "put", "post", "delete", "patch")
# The emulator serves the spec's paths under the spec server's /v1 prefix.
EMULATOR_PREFIX = "/v1"


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    spec = _spec()
    return [
        (method.upper(), path, item[method])
        for path, item in spec["paths"].items()
        for method in HTTP_METHODS
        if method in item
    ]


def _spec() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    return spec


def _fields(operation: dict[str, Any]) -> set[str]:
    """Names the operation takes: its parameters and its JSON body's top-level properties."""
    names = {p["name"] for p in operation.get("parameters", [])}
    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    schema = body.get("schema", {})
    ref = schema.get("$ref")
    if isinstance(ref, str):
        schema = _spec()["components"]["schemas"][ref.rsplit("/", 1)[1]]
    names |= set(schema.get("properties", {}))
    return names


def _signature(cls: type, name: str) -> list[tuple[str, Any, Any]] | None:
    method = getattr(cls, name, None)
    if not callable(method):
        return None
    return [
        (p.name, p.kind, p.default)
        for p in inspect.signature(method).parameters.values()
        if p.name != "self"
    ]


def _emulator_routes() -> set[tuple[str, str]]:
    app = create_app(EmulatorConfig())
    return set(_served(app.routes, ""))


def _served(routes: list[BaseRoute], prefix: str) -> list[tuple[str, str]]:
    """(method, full path) of every route, inside mounts too."""
    found: list[tuple[str, str]] = []
    for route in routes:
        if isinstance(route, Mount):
            found += _served(route.routes, prefix + route.path)
        elif isinstance(route, Route):
            found += [(method, prefix + route.path) for method in route.methods or ()]
    return found


def _cli_commands() -> set[str]:
    parser = build_parser()
    for action in parser._actions:  # argparse has no public accessor for subcommands
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    return set()


def missing_parts(
    method: str,
    path: str,
    operation: dict[str, Any],
    routes: set[tuple[str, str]],
    commands: set[str],
) -> list[str]:
    """What the project lacks for one operation of the spec, one line per gap."""
    word = path.rstrip("/").rsplit("/", 1)[1]
    problems: list[str] = []
    sync, asynchronous = _signature(QueueClient, word), _signature(AsyncQueueClient, word)
    if sync is None:
        problems.append(f"no method QueueClient.{word}")
    if asynchronous is None:
        problems.append(f"no method AsyncQueueClient.{word}")
    if sync is not None and asynchronous is not None and sync != asynchronous:
        problems.append(
            f"QueueClient.{word} and AsyncQueueClient.{word} differ in parameters: "
            f"{[p[0] for p in sync]} vs {[p[0] for p in asynchronous]}"
        )
    if sync is not None:
        absent = sorted(_fields(operation) - {p[0] for p in sync})
        if absent:
            problems.append(f"QueueClient.{word} has no parameter for {absent}")
    if (method, EMULATOR_PREFIX + path) not in routes:
        problems.append(f"no emulator route {method} {EMULATOR_PREFIX}{path}")
    if word not in commands:
        problems.append(f"no CLI command `together-queue {word}`")
    return problems


OPERATIONS = _operations()


def test_the_spec_has_operations_to_guard() -> None:
    """The guard below is not vacuous: openapi.yaml declares operations.

    Which operations there are is the guard's to judge: a new one fails there, naming
    each layer it still lacks, not here.
    """
    assert OPERATIONS, f"{SPEC} declares no operations: the guard would check nothing"
    assert ("POST", "/queue/submit") in {(m, p) for m, p, _ in OPERATIONS}


@pytest.mark.parametrize(
    ("method", "path", "operation"),
    OPERATIONS,
    ids=[op.get("operationId", f"{m} {p}") for m, p, op in OPERATIONS],
)
def test_operation_is_complete_on_every_layer(
    method: str, path: str, operation: dict[str, Any]
) -> None:
    problems = missing_parts(method, path, operation, _emulator_routes(), _cli_commands())
    name = operation.get("operationId", "?")
    assert not problems, f"openapi.yaml operation {name} ({method} {path}) is half-done: " + (
        "; ".join(problems)
    )


def test_the_guard_names_what_is_missing() -> None:
    """The guard itself: an operation the project lacks is reported at every layer."""
    operation = {
        "operationId": "purgeQueue",
        "requestBody": {"content": {"application/json": {"schema": {"properties": {"model": {}}}}}},
    }
    problems = missing_parts("POST", "/queue/purge", operation, _emulator_routes(), set())
    assert problems == [
        "no method QueueClient.purge",
        "no method AsyncQueueClient.purge",
        "no emulator route POST /v1/queue/purge",
        "no CLI command `together-queue purge`",
    ]


def test_a_new_operation_is_reported_by_the_guard_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Adding an operation to the spec: the sanity check stays quiet, the guard speaks."""
    purge = ("POST", "/queue/purge", {"operationId": "purgeQueue"})
    monkeypatch.setattr(sys.modules[__name__], "OPERATIONS", [*OPERATIONS, purge])

    test_the_spec_has_operations_to_guard()
    with pytest.raises(AssertionError) as failed:
        test_operation_is_complete_on_every_layer(*purge)

    assert str(failed.value).startswith(
        "openapi.yaml operation purgeQueue (POST /queue/purge) is half-done: "
        "no method QueueClient.purge; no method AsyncQueueClient.purge; "
        "no emulator route POST /v1/queue/purge; no CLI command `together-queue purge`"
    )
