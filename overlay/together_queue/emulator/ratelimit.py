"""Load-dependent rate limits: a token bucket per operation, as real services have.

Unlike a `429` fault (a fixed probability per call, whatever the load), a limit refuses
only calls that come faster than its rate, so a client that slows down meets fewer 429s.
`RATE_LIMIT_SYNTAX` describes the text form (`--rate-limit` and
`POST /_emulator/rate-limits`); `RateLimitMiddleware` enforces the limits.

A refused call is answered `429` with `Retry-After`: the time until the next token is
due, rounded up to whole seconds (the spec and HTTP say delta-seconds is an integer), so a
retry then passes.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from together_queue.emulator.routes import OPERATIONS

__all__ = [
    "RATE_LIMIT_SYNTAX",
    "RateLimit",
    "RateLimiter",
    "limits_from_json",
    "parse_rate_limit",
    "retry_after_text",
]

RATE_LIMIT_SYNTAX = f"""\
OP=RATE/s[,burst=N]
  OP      {" | ".join((*OPERATIONS, "*"))}
          (*: one bucket shared by every operation)
  RATE    tokens added per second (> 0); one call takes one token
  burst   bucket size, the calls that may pass at once (default: RATE rounded up)
a call over a limit gets 429 with Retry-After: when the next token is due"""
"""The text form of a rate limit, as `--rate-limit` and `/_emulator/rate-limits` read it."""


def _check(limit: RateLimit) -> None:
    if limit.operation != "*" and limit.operation not in OPERATIONS:
        raise ValueError(
            f"unknown rate-limit operation {limit.operation!r}; expected one of "
            f"{', '.join((*OPERATIONS, '*'))}"
        )
    if not (math.isfinite(limit.rate) and limit.rate > 0):  # also refuses NaN
        raise ValueError(f"rate limit rate must be a finite number > 0, not {limit.rate}")
    if limit.burst is not None and limit.burst < 1:
        raise ValueError(f"rate limit burst must be >= 1, not {limit.burst}")


@attrs.frozen
class RateLimit:
    """A token bucket on one operation (or `*`): `rate` per second, `burst` at once."""

    operation: str
    rate: float
    burst: int | None = None

    def __attrs_post_init__(self) -> None:
        """Reject impossible limits at construction."""
        _check(self)

    @property
    def size(self) -> int:
        """The bucket size: `burst`, or one second's worth of tokens."""
        return self.burst if self.burst is not None else max(1, math.ceil(self.rate))

    def to_json(self) -> dict[str, Any]:
        """The limit as a JSON object (the shape `/_emulator/rate-limits` accepts)."""
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RateLimit:
        """Build a limit from a JSON object; unknown keys are an error."""
        unknown = set(data) - {"operation", "rate", "burst"}
        if unknown:
            raise ValueError(f"unknown rate limit keys: {', '.join(sorted(unknown))}")
        try:
            burst = data.get("burst")
            return cls(
                operation=str(data["operation"]),
                rate=float(data["rate"]),
                burst=None if burst is None else int(burst),
            )
        except KeyError as exc:
            raise ValueError(f"rate limit needs {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise ValueError(f"bad rate limit {dict(data)!r}: {exc}") from None


def parse_rate_limit(spec: str) -> RateLimit:
    """Parse one limit written as `RATE_LIMIT_SYNTAX` says (ValueError naming what is wrong)."""
    operation, sep, rest = spec.strip().partition("=")
    rate_text, *options = rest.split(",")
    if not sep or not rate_text.endswith("/s"):
        raise ValueError(f"rate limit {spec!r}: expected OP=RATE/s[,burst=N]")
    fields: dict[str, Any] = {"operation": operation.strip(), "rate": rate_text[:-2]}
    for option in options:
        key, eq, value = option.strip().partition("=")
        if key != "burst" or not eq:
            raise ValueError(f"rate limit {spec!r}: unknown option {option.strip()!r}")
        fields["burst"] = value
    try:
        return RateLimit.from_json(fields)
    except ValueError as exc:
        raise ValueError(f"rate limit {spec!r}: {exc}") from None


def limits_from_json(data: Mapping[str, Any]) -> tuple[RateLimit, ...]:
    """Limits from `{"limits": [spec string | limit object, ...]}`."""
    unknown = set(data) - {"limits"}
    if unknown:
        raise ValueError(f"unknown rate limit keys: {', '.join(sorted(unknown))}")
    raw = data.get("limits", [])
    if not isinstance(raw, list):
        raise ValueError("'limits' must be a list")
    limits: list[RateLimit] = []
    for item in raw:
        if isinstance(item, str):
            limits.append(parse_rate_limit(item))
        elif isinstance(item, dict):
            limits.append(RateLimit.from_json(item))
        else:
            raise ValueError("each rate limit is a spec string or an object")
    return tuple(limits)


class RateLimiter:
    """The live buckets of a set of limits (thread-safe); `clock` is injectable for tests."""

    def __init__(
        self, limits: Iterable[RateLimit] = (), clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Start with full buckets for `limits` (default: no limit)."""
        self._lock = threading.Lock()
        self._clock = clock
        self._limits: tuple[RateLimit, ...] = ()
        self._tokens: list[float] = []
        self._stamps: list[float] = []
        self.set_limits(limits)

    @property
    def limits(self) -> tuple[RateLimit, ...]:
        """The limits in force."""
        return self._limits

    def set_limits(self, limits: Iterable[RateLimit]) -> None:
        """Replace the limits; every bucket starts full."""
        limits = tuple(limits)
        now = self._clock()
        with self._lock:
            self._limits = limits
            self._tokens = [float(limit.size) for limit in limits]
            self._stamps = [now] * len(limits)

    def take(self, operation: str) -> float | None:
        """Take a token for one call of `operation`: None if it passes, else seconds to wait.

        A refused call takes nothing from any bucket (it was not served), and a call
        passes only if every limit on its operation has a token.
        """
        with self._lock:
            if not self._limits:
                return None
            now = self._clock()
            matching = [
                i for i, limit in enumerate(self._limits) if limit.operation in ("*", operation)
            ]
            wait = 0.0
            for i in matching:
                limit = self._limits[i]
                tokens = min(
                    float(limit.size), self._tokens[i] + (now - self._stamps[i]) * limit.rate
                )
                self._tokens[i], self._stamps[i] = tokens, now
                if tokens < 1.0 - 1e-9:  # float slack: a retry at Retry-After passes
                    wait = max(wait, (1.0 - tokens) / limit.rate)
            if wait > 0.0:
                return wait
            for i in matching:
                self._tokens[i] -= 1.0
            return None


def retry_after_text(seconds: float) -> str:
    """`seconds` as a `Retry-After` value: whole seconds, rounded up (never early)."""
    return str(max(1, math.ceil(seconds)))
