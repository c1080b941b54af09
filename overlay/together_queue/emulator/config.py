"""EmulatorConfig: every setting of the emulator, mirroring its command-line options."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from types import MappingProxyType

import attrs

from together_queue.emulator.faults import FaultPlan

__all__ = ["MAX_PORT", "EmulatorConfig", "is_loopback_host", "parse_model_spec"]

MAX_PORT = 65535
"""The highest TCP port number."""


def _freeze_models(models: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(models))


def _check_positive(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be > 0, not {value}")


def _check_port(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not 0 <= value <= MAX_PORT:
        raise ValueError(f"port must be within 0..{MAX_PORT}, not {value}")


def _check_non_negative(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must be >= 0, not {value}")


@attrs.frozen(kw_only=True)
class EmulatorConfig:
    """Settings of one emulator instance (the CLI options, as a value object).

    ``db`` None keeps jobs in memory; ``models`` maps a model name to its in-process
    handler (``echo``, ``sleep``, ``fail`` or ``module:func``); a model not listed has
    no in-process handler and waits for external workers. ``api_keys`` empty disables
    auth. ``claim_timeout`` is in seconds; ``max_retries`` is how many lapsed claims a
    job survives before it fails for good.
    """

    host: str = "127.0.0.1"
    port: int = attrs.field(default=0, validator=_check_port)
    db: str | None = None
    workers: int = attrs.field(default=2, validator=_check_non_negative)
    models: Mapping[str, str] = attrs.field(
        factory=lambda: MappingProxyType({}), converter=_freeze_models
    )
    api_keys: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    claim_timeout: float = attrs.field(default=30.0, validator=_check_positive)
    max_body_bytes: int = attrs.field(default=1_000_000, validator=_check_non_negative)
    faults: FaultPlan = attrs.field(factory=FaultPlan)
    max_retries: int = attrs.field(default=3, validator=_check_non_negative)


def parse_model_spec(spec: str) -> tuple[str, str]:
    """Split ``NAME=HANDLER`` (HANDLER: echo, sleep, fail or module:func)."""
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


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` names only this machine (127.0.0.0/8, ::1 or localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
