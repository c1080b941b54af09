"""EmulatorConfig: every setting of the emulator, mirroring its command-line options."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from types import MappingProxyType

import attrs

from together_queue._config import is_loopback_host
from together_queue.emulator.faults import FaultPlan
from together_queue.emulator.ratelimit import RateLimit

# is_loopback_host is the client's own, re-exported here for code that imports it from here.
__all__ = [
    "DEFAULT_CLAIM_TIMEOUT",
    "LOOPBACK_NAMES",
    "MAX_CLAIM_TIMEOUT",
    "MAX_PORT",
    "EmulatorConfig",
    "is_loopback_host",
    "parse_model_spec",
]

MAX_PORT = 65535
"""The highest TCP port number."""

DEFAULT_CLAIM_TIMEOUT = 360.0
"""Seconds a claim lasts without an update when the worker asks for no `claim_timeout`.

A sync worker of Together's SDK asks for none and sends no heartbeat, and the SDK
bounds a prediction at 300 s: six minutes holds such a job, its downloads and uploads.
"""


LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
"""The `Host` names the emulator always answers (any `127.x.y.z` address as well)."""

MAX_CLAIM_TIMEOUT = 86400.0
"""The longest claim, in seconds, a worker or `--claim-timeout` may ask for (one day)."""


def _freeze_models(models: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(models))


def _strings(values: Iterable[str]) -> tuple[str, ...]:
    if isinstance(values, str):  # one value, not an iterable of one-character strings
        return (values,)
    return tuple(values)


def _check_keys(
    instance: object, attribute: attrs.Attribute[tuple[str, ...]], value: tuple[str, ...]
) -> None:
    for number, key in enumerate(value, 1):
        # A client sends the key in an HTTP header, which carries ASCII only: any other
        # key could never match. Printable, so that no header or log line is split.
        if not (key.isascii() and key.isprintable()) or key != key.strip() or not key:
            raise ValueError(
                f"API key number {number} holds a character other than printable ASCII "
                "(or leading or trailing spaces): a client cannot send it in an HTTP header"
            )


def _check_claim_timeout(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (math.isfinite(value) and 0 < value <= MAX_CLAIM_TIMEOUT):
        raise ValueError(
            f"{attribute.name} must be a number of seconds above 0 and at most "
            f"{MAX_CLAIM_TIMEOUT:g}, not {value}"
        )


def _check_positive(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (math.isfinite(value) and value > 0):  # also refuses NaN
        raise ValueError(f"{attribute.name} must be a finite number > 0, not {value}")


def _check_tls(
    instance: EmulatorConfig, attribute: attrs.Attribute[str | None], value: str | None
) -> None:
    if (instance.ssl_certfile is None) != (value is None):
        raise ValueError("ssl_certfile and ssl_keyfile go together: give both or neither")


def _check_port(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not 0 <= value <= MAX_PORT:
        raise ValueError(f"port must be within 0..{MAX_PORT}, not {value}")


def _check_non_negative(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must be >= 0, not {value}")


@attrs.frozen(kw_only=True)
class EmulatorConfig:
    """Settings of one emulator instance (the CLI options, as a value object).

    `db` None keeps jobs in memory; `models` maps a model name to its in-process
    handler (`echo`, `sleep`, `fail` or `module:func`); a model not listed has
    no in-process handler and waits for external workers. `api_keys` empty disables
    auth. `claim_timeout` is the lease in seconds of a claim that asks for none;
    `max_retries` is how many lapsed claims a job survives before it fails for good.
    `ssl_certfile`/`ssl_keyfile` (PEM, both or neither) serve HTTPS.
    `rate_limits` are token buckets per operation (429 with Retry-After when empty).
    `max_upload_bytes` bounds one stored file. `unpolled_warning_seconds` is how
    long a job of a model nobody serves waits before the emulator logs a warning.
    `allowed_hosts` are the `Host` names served besides the loopback ones (`*`: any).
    """

    host: str = "127.0.0.1"
    port: int = attrs.field(default=0, validator=_check_port)
    db: str | None = None
    workers: int = attrs.field(default=2, validator=_check_non_negative)
    models: Mapping[str, str] = attrs.field(
        factory=lambda: MappingProxyType({}), converter=_freeze_models
    )
    api_keys: tuple[str, ...] = attrs.field(default=(), converter=_strings, validator=_check_keys)
    claim_timeout: float = attrs.field(
        default=DEFAULT_CLAIM_TIMEOUT, validator=_check_claim_timeout
    )
    max_body_bytes: int = attrs.field(default=1_000_000, validator=_check_non_negative)
    faults: FaultPlan = attrs.field(factory=FaultPlan)
    rate_limits: tuple[RateLimit, ...] = attrs.field(default=(), converter=tuple)
    max_retries: int = attrs.field(default=3, validator=_check_non_negative)
    unpolled_warning_seconds: float = attrs.field(default=10.0, validator=_check_positive)
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = attrs.field(default=None, validator=_check_tls)
    max_upload_bytes: int = attrs.field(default=100_000_000, validator=_check_non_negative)
    allowed_hosts: tuple[str, ...] = attrs.field(default=(), converter=_strings)

    @property
    def scheme(self) -> str:
        """`https` when a certificate is configured, else `http`."""
        return "http" if self.ssl_certfile is None else "https"


def parse_model_spec(spec: str) -> tuple[str, str]:
    """Split `NAME=HANDLER` (HANDLER: echo, sleep, fail or module:func)."""
    name, sep, handler = spec.partition("=")
    name, handler = name.strip(), handler.strip()
    if not sep or not name or not handler:
        raise ValueError(f"model {spec!r}: expected NAME=echo|sleep|fail|module:func")
    # Imported here: handlers pulls in asyncio, which the CLI's --help need not pay for.
    from together_queue.emulator.handlers import BUILTIN_HANDLERS

    if handler not in BUILTIN_HANDLERS and ":" not in handler:
        raise ValueError(
            f"model {spec!r}: handler must be echo, sleep, fail or module:func, not {handler!r}"
        )
    return name, handler
