"""HostMiddleware: answer only requests whose `Host` names this machine (or an allowed name).

A web page can make a browser send requests to `127.0.0.1` through a DNS name it
controls (DNS rebinding); such requests carry that name in `Host`. Refusing every `Host`
but the loopback names (and the names given with `--allowed-host`) keeps them out, as
Starlette's `TrustedHostMiddleware` does for a list of names.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from together_queue.emulator._http import ApiError, drain, error_response
from together_queue.emulator.config import LOOPBACK_NAMES

__all__ = ["HostMiddleware", "host_name", "served_names"]

_MAX_SHOWN = 64


def host_name(header: str) -> str:
    """The name in a `Host` header value, without its port, lower-cased."""
    value = header.strip().lower()
    if value.startswith("["):  # [::1]:8000
        return value[1:].partition("]")[0]
    name, _, port = value.rpartition(":")
    return name if name and port.isdigit() else value


def _is_loopback(name: str) -> bool:
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def served_names(bind_host: str, allowed_hosts: Iterable[str]) -> tuple[str, ...]:
    """The names to allow besides loopback: `allowed_hosts`, and the address bound to.

    A wildcard bind address (`0.0.0.0`, `::`) names no host, so it is not one of them.
    """
    names = list(allowed_hosts)
    try:
        wildcard = ipaddress.ip_address(bind_host).is_unspecified
    except ValueError:
        wildcard = False
    if not wildcard:
        names.append(bind_host)
    return tuple(names)


class HostMiddleware:
    """Refuse (400) a request whose `Host` is neither loopback nor in `allowed_hosts`."""

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str] = ()) -> None:
        """Wrap `app`; `allowed_hosts` adds names (`*` allows any)."""
        self.app = app
        self.allowed = frozenset(host_name(name) for name in allowed_hosts)

    def allows(self, name: str) -> bool:
        """Whether a request naming `name` in `Host` is served."""
        return "*" in self.allowed or name in self.allowed or _is_loopback(name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass an allowed request on; answer 400 to any other HTTP request."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        values = [value for key, value in scope["headers"] if key == b"host"]
        header = values[0].decode("latin-1") if len(values) == 1 else ""
        name = host_name(header)
        if name and self.allows(name):
            await self.app(scope, receive, send)
            return
        await drain(receive)
        shown = repr(header[:_MAX_SHOWN]) if len(values) == 1 else f"{len(values)} Host headers"
        err = ApiError(
            400,
            "invalid_host",
            f"Host {shown} is not served: the emulator answers only loopback names "
            f"({', '.join(LOOPBACK_NAMES)}); start it with --allowed-host NAME "
            "(EmulatorConfig.allowed_hosts) to serve another",
            param="Host",
        )
        await error_response(err)(scope, receive, send)
