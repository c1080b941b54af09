"""Strict JSON shared by the CLI and the emulator: no NaN/Infinity, a bounded nesting depth."""

from __future__ import annotations

from typing import Any, NoReturn

__all__ = ["MAX_JSON_DEPTH", "nesting_exceeds", "reject_constant"]

MAX_JSON_DEPTH = 64
"""The deepest nesting of objects and arrays the emulator accepts in a request body.

Far below Python's recursion limit, so every value stored can later be served (and
re-encoded by the generated models) without a RecursionError.
"""


def reject_constant(name: str) -> NoReturn:
    """`parse_constant` for `json.loads`: NaN and Infinity are not JSON."""
    raise ValueError(f"{name} is not valid JSON")


def nesting_exceeds(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether `value` (decoded JSON) nests objects/arrays deeper than `limit` levels.

    Iterative, so it cannot itself run out of stack on a hostile value.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False
