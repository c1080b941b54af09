"""An in-process model for the update-stream tests: progress in steps the test releases."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

STEPS = (0.25, 0.5, 0.75)
"""The progress values `stepped` reports, in order."""

GATES: dict[str, list[threading.Event]] = {}
"""Per test (`payload["gate"]`): one event per step, set once the test has seen that step."""

_GATE_SECONDS = 20.0


def stepped(payload: dict[str, Any], report: Callable[[Mapping[str, Any]], None]) -> dict[str, Any]:
    """Report each of `STEPS`, each time waiting until the test has seen it."""
    gates = GATES[payload["gate"]]
    for step, gate in zip(STEPS, gates, strict=True):
        report({"progress": step})
        # Bounded, so that a broken test cannot leave this thread behind for good.
        if not gate.wait(_GATE_SECONDS):
            raise RuntimeError(f"the test never saw progress {step}")
    return {"steps": len(STEPS)}
