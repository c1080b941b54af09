"""Fault plans: which injected failures strike which emulator operations, and when.

A plan is a tuple of rules. Each rule names an operation (or `*`), a kind of fault,
and how often it strikes: a probability per call drawn from a seeded RNG (reproducible),
or `next=N` (deterministic: exactly the next N matching calls). `when` says whether
the fault strikes before the operation takes effect or after it (the job *is* stored,
the answer is lost). `FAULT_SYNTAX` describes the text form (`--fault` and
`POST /_emulator/faults`); the operations are the route table's (`routes.OPERATIONS`).
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Iterable, Mapping
from typing import Any, Literal, cast

import attrs

from together_queue.emulator.routes import OPERATIONS

__all__ = [
    "FAULT_KINDS",
    "FAULT_SYNTAX",
    "OPERATIONS",
    "FaultDecision",
    "FaultInjector",
    "FaultPlan",
    "FaultRule",
    "parse_fault",
]

FAULT_KINDS = ("500", "429", "drop", "latency")
"""Kinds of injected fault."""

FAULT_SYNTAX = f"""\
OP:KIND:AMOUNT[:WHEN][:OPTION...]
  OP      {" | ".join((*OPERATIONS, "*"))}
  KIND    500 | 429 (with Retry-After) | drop (cut the connection) | latency
  AMOUNT  a probability 0..1 per call (seeded), or next=N (the next N matching calls)
  WHEN    before (the operation does not happen; default)
          | after (it happens, the answer is lost; not for 429)
  OPTION  retry_after=SECONDS (429, default 1) | seconds=S (latency, default 0.1)
examples: submit:500:0.1:after  status:429:next=2:retry_after=3  *:latency:1:seconds=0.05"""
"""The text form of a fault rule, as `--fault` and `POST /_emulator/faults` read it."""

FaultKind = Literal["500", "429", "drop", "latency"]
When = Literal["before", "after"]


def _check_rule(rule: FaultRule) -> None:
    if rule.operation != "*" and rule.operation not in OPERATIONS:
        raise ValueError(
            f"unknown fault operation {rule.operation!r}; expected one of "
            f"{', '.join((*OPERATIONS, '*'))}"
        )
    if rule.kind not in FAULT_KINDS:
        raise ValueError(
            f"unknown fault kind {rule.kind!r}; expected one of {', '.join(FAULT_KINDS)}"
        )
    if rule.when not in ("before", "after"):
        raise ValueError(f"fault 'when' must be before or after, not {rule.when!r}")
    if rule.kind == "429" and rule.when == "after":
        # A 429 tells the client the call was not taken, so it rightly resends: with the
        # operation done anyway, one submit() would store two jobs.
        raise ValueError(
            "a 429 fault cannot strike 'after': a 429 means the call was not taken, so "
            "clients resend it; use 429 with 'before', or 500/drop with 'after'"
        )
    if not 0.0 <= rule.rate <= 1.0:
        raise ValueError(f"fault rate must be within 0..1, not {rule.rate}")
    if rule.count is not None and rule.count < 0:
        raise ValueError(f"fault count must be >= 0, not {rule.count}")
    if rule.retry_after < 0 or not 0 <= rule.seconds < math.inf:  # also refuses NaN
        raise ValueError("fault retry_after and seconds must be >= 0")


@attrs.frozen
class FaultRule:
    """One injected fault: what strikes which operation, how often, and when."""

    operation: str
    kind: FaultKind
    rate: float = 1.0
    when: When = "before"
    count: int | None = None
    retry_after: int = 1
    seconds: float = 0.1

    def __attrs_post_init__(self) -> None:
        """Reject impossible rules at construction."""
        _check_rule(self)

    def matches(self, operation: str) -> bool:
        """Whether this rule applies to `operation`."""
        return self.operation in ("*", operation)

    def to_json(self) -> dict[str, Any]:
        """The rule as a JSON object (the shape `/_emulator/faults` accepts)."""
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FaultRule:
        """Build a rule from a JSON object; unknown keys are an error."""
        unknown = set(data) - {f.name for f in attrs.fields(cls)}
        if unknown:
            raise ValueError(f"unknown fault rule keys: {', '.join(sorted(unknown))}")
        try:
            return cls(
                operation=str(data["operation"]),
                kind=cast(FaultKind, str(data["kind"])),
                rate=float(data.get("rate", 1.0)),
                when=cast(When, data.get("when", "before")),
                count=None if data.get("count") is None else int(data["count"]),
                retry_after=int(data.get("retry_after", 1)),
                seconds=float(data.get("seconds", 0.1)),
            )
        except KeyError as exc:
            raise ValueError(f"fault rule needs {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise ValueError(f"bad fault rule {dict(data)!r}: {exc}") from None


def parse_fault(spec: str) -> FaultRule:
    """Parse one rule written as `FAULT_SYNTAX` says (ValueError naming what is wrong)."""
    parts = spec.strip().split(":")
    if len(parts) < 3:
        raise ValueError(f"fault {spec!r}: expected OP:KIND:AMOUNT[:WHEN][:OPTION...]")
    operation, kind, amount, *rest = parts
    fields: dict[str, Any] = {"operation": operation, "kind": kind}
    if amount.startswith("next="):
        fields["count"] = amount.removeprefix("next=")
    else:
        fields["rate"] = amount
    for part in rest:
        if part in ("before", "after"):
            fields["when"] = part
        elif "=" in part:
            key, _, value = part.partition("=")
            if key not in ("retry_after", "seconds"):
                raise ValueError(f"fault {spec!r}: unknown option {key!r}")
            fields[key] = value
        else:
            raise ValueError(f"fault {spec!r}: cannot read {part!r}")
    try:
        return FaultRule.from_json(fields)
    except ValueError as exc:
        raise ValueError(f"fault {spec!r}: {exc}") from None


@attrs.frozen
class FaultPlan:
    """An ordered set of fault rules and the RNG seed for their rates (empty = off)."""

    rules: tuple[FaultRule, ...] = ()
    seed: int = 0

    @classmethod
    def parse(cls, specs: Iterable[str], seed: int = 0) -> FaultPlan:
        """Build a plan from text specs such as `submit:500:0.1:after`."""
        return cls(rules=tuple(parse_fault(s) for s in specs), seed=seed)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FaultPlan:
        """Build a plan from `{"seed": int, "rules": [spec string | rule object, ...]}`."""
        unknown = set(data) - {"seed", "rules"}
        if unknown:
            raise ValueError(f"unknown fault plan keys: {', '.join(sorted(unknown))}")
        raw_rules = data.get("rules", [])
        if not isinstance(raw_rules, list):
            raise ValueError("fault plan 'rules' must be a list")
        rules: list[FaultRule] = []
        for raw in raw_rules:
            if isinstance(raw, str):
                rules.append(parse_fault(raw))
            elif isinstance(raw, dict):
                rules.append(FaultRule.from_json(raw))
            else:
                raise ValueError("each fault rule is a spec string or an object")
        seed = data.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ValueError("fault plan 'seed' must be an integer")
        return cls(rules=tuple(rules), seed=seed)

    def to_json(self) -> dict[str, Any]:
        """The plan as JSON."""
        return {"seed": self.seed, "rules": [r.to_json() for r in self.rules]}


@attrs.frozen
class FaultDecision:
    """What to do to one call: delays and at most one error fault (with its timing)."""

    latency_before: float = 0.0
    latency_after: float = 0.0
    error: FaultRule | None = None


NO_FAULT = FaultDecision()


class FaultInjector:
    """The live state of a plan: its RNG and the remaining `next=N` counts (thread-safe)."""

    def __init__(self, plan: FaultPlan | None = None) -> None:
        """Start with `plan` (default: no faults)."""
        self._lock = threading.Lock()
        self._plan = FaultPlan()
        self._rng = random.Random(0)  # noqa: S311 - reproducible faults, not security
        self._remaining: list[int | None] = []
        self.set_plan(plan or FaultPlan())

    @property
    def plan(self) -> FaultPlan:
        """The plan in force."""
        return self._plan

    def set_plan(self, plan: FaultPlan) -> None:
        """Replace the plan, reseeding the RNG and resetting every `next=N` count."""
        with self._lock:
            self._plan = plan
            self._rng = random.Random(plan.seed)  # noqa: S311
            self._remaining = [rule.count for rule in plan.rules]

    def remaining(self) -> list[int | None]:
        """How many strikes each deterministic rule has left (None for rate rules)."""
        with self._lock:
            return list(self._remaining)

    def decide(self, operation: str) -> FaultDecision:
        """Roll the dice for one call of `operation`; the first striking error rule wins."""
        with self._lock:
            if not self._plan.rules:
                return NO_FAULT
            before = after = 0.0
            error: FaultRule | None = None
            for index, rule in enumerate(self._plan.rules):
                if not rule.matches(operation):
                    continue
                if rule.kind != "latency" and error is not None:
                    continue  # one error per call; later rules keep their counts
                if not self._strikes(index, rule):
                    continue
                if rule.kind == "latency":
                    if rule.when == "before":
                        before += rule.seconds
                    else:
                        after += rule.seconds
                else:
                    error = rule
            return FaultDecision(latency_before=before, latency_after=after, error=error)

    def _strikes(self, index: int, rule: FaultRule) -> bool:
        left = self._remaining[index]
        if left is not None:
            if left <= 0:
                return False
            self._remaining[index] = left - 1
            return True
        return self._rng.random() < rule.rate
