"""User handlers loaded by the emulator as ``module:func`` in the handler tests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping
from typing import Any


def shout(payload: dict[str, Any]) -> dict[str, Any]:
    return {"text": str(payload["text"]).upper()}


def count_up(
    payload: dict[str, Any], report: Callable[[Mapping[str, Any]], None]
) -> dict[str, Any]:
    steps = int(payload.get("steps", 3))
    for step in range(1, steps + 1):
        report({"progress": step / steps, "step": step})
    return {"counted": steps}


async def double(payload: dict[str, Any]) -> dict[str, Any]:
    await asyncio.sleep(0)
    return {"value": payload["value"] * 2}


async def double_with_report(
    payload: dict[str, Any], report: Callable[[Mapping[str, Any]], None]
) -> dict[str, Any]:
    report({"stage": "doubling"})
    await asyncio.sleep(0)
    return {"value": payload["value"] * 2}


def explode(payload: dict[str, Any]) -> dict[str, Any]:
    raise ValueError(f"cannot handle {payload.get('what', 'this')}")


def not_a_dict(payload: dict[str, Any]) -> list[int]:
    return [1, 2, 3]


async def outlast_claim(payload: dict[str, Any]) -> dict[str, Any]:
    # Never reports: only the runtime's heartbeat can keep the claim alive this long.
    await asyncio.sleep(float(payload["seconds"]))
    return {"slept": payload["seconds"]}


RELEASE = threading.Event()
"""Set by the test that runs ``block_until_released`` once it no longer needs it blocked."""

STARTED = threading.Event()
"""Set by ``block_until_released`` once it runs."""


def block_until_released(payload: dict[str, Any]) -> dict[str, Any]:
    STARTED.set()
    # Bounded all the same, so a broken test cannot leave the thread behind for good.
    RELEASE.wait(60)
    return {"released": RELEASE.is_set()}


def report_number(payload: dict[str, Any], report: Callable[[Any], None]) -> dict[str, Any]:
    report(0.5)  # a bare number is the progress
    return {"reported": True}


def report_wrong(payload: dict[str, Any], report: Callable[[Any], None]) -> dict[str, Any]:
    report([0.5])  # neither a mapping nor a number
    return {"reported": True}


def grow_info(
    payload: dict[str, Any], report: Callable[[Mapping[str, Any]], None]
) -> dict[str, Any]:
    for n in range(100):  # 100 new keys of 10 kB each: past the info limit
        report({f"k{n}": "x" * 10_000})
    return {"reported": 100}
