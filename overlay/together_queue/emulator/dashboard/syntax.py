"""The fault and rate-limit rule syntax as data, for the page's checks before it sends a rule.

The page's checker (`static/syntax.js`) follows `parse_fault` and `parse_rate_limit`
and takes its words (operations, kinds, options) from here, so a word added to the
server reaches the page; a test runs both on the same examples and compares verdicts.
"""

from __future__ import annotations

from typing import Any

from together_queue.emulator.faults import FAULT_KINDS, OPERATIONS, FaultRule

__all__ = ["rule_spec", "syntax_json"]


def syntax_json() -> dict[str, Any]:
    """The words of both syntaxes, as `GET /_emulator/syntax` answers them."""
    return {
        "fault": {
            "form": "OP:KIND:AMOUNT[:WHEN][:OPTION...]",
            "operations": [*OPERATIONS, "*"],
            "kinds": list(FAULT_KINDS),
            "whens": ["before", "after"],
            "options": ["retry_after", "seconds"],
        },
        "rate_limit": {
            "form": "OP=RATE/s[,burst=N]",
            "operations": [*OPERATIONS, "*"],
            "options": ["burst"],
        },
    }


def rule_spec(rule: FaultRule) -> str:
    """`rule` in the text syntax `parse_fault` reads (it parses back to an equal rule)."""
    amount = f"next={rule.count}" if rule.count is not None else str(rule.rate)
    parts = [rule.operation, rule.kind, amount, rule.when]
    if rule.kind == "429":
        parts.append(f"retry_after={rule.retry_after}")
    if rule.kind == "latency":
        parts.append(f"seconds={rule.seconds}")
    return ":".join(parts)
