"""httpx clients with this library's defaults, for callers who bring their own `http_client`.

A client built by `httpx.Client()` directly lacks what the library sets up for itself:
its timeouts, no redirects, and a proxy-free path to this machine (an
`HTTP(S)_PROXY` from the environment would otherwise receive every request to a local
emulator, the key included, in clear text). `default_http_client(**kwargs)` keeps them
and takes any `httpx.Client` argument on top (event hooks, mounts, a transport, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, TypeVar

import httpx

from together_queue._config import DEFAULT_LIMITS, DEFAULT_TIMEOUT

__all__ = [
    "LOOPBACK_HOSTS",
    "LOOPBACK_PATTERNS",
    "build_http_client",
    "default_async_http_client",
    "default_http_client",
]

#: The hosts that always bypass an environment proxy (any port, http and https): the
#: loopback names `is_loopback_host` accepts without DNS (`*.localhost` is not one), as
#: `httpx.URL.host` gives them. Another loopback address bypasses it when it is the base
#: URL's host (`direct_hosts`).
LOOPBACK_HOSTS: Final = ("localhost", "127.0.0.1", "::1")


def direct_mount(host: str) -> str:
    """The mount pattern that matches every request to `host` (bracketed when IPv6)."""
    return f"all://[{host}]" if ":" in host else f"all://{host}"


#: `LOOPBACK_HOSTS` as httpx mount patterns.
LOOPBACK_PATTERNS: Final = tuple(direct_mount(host) for host in LOOPBACK_HOSTS)

# `httpx.Client` arguments that shape the connections of its own transport: the proxy-free
# transports get the same ones, so that `verify=`, `http2=` and `limits=` hold for them too.
_TRANSPORT_ARGS: Final = ("verify", "cert", "trust_env", "http1", "http2", "limits")


HttpT = TypeVar("HttpT", httpx.Client, httpx.AsyncClient)


def build_http_client(
    http_type: type[HttpT], *, direct_hosts: Sequence[str] = (), **kwargs: Any
) -> HttpT:
    """An `http_type` (`httpx.Client` or `httpx.AsyncClient`) with the library's defaults.

    The one place that builds the clients' own pools: the library's clients and
    `default_http_client` alike. `direct_hosts` bypass any environment proxy too, like
    the loopback names.
    """
    # Imported here: `_pool` loads httpcore (and h11), which httpx itself defers until a
    # transport is built; `from together_queue import QueueClient` then costs no more.
    from together_queue._pool import use_fair_pools

    transport = httpx.HTTPTransport if http_type is httpx.Client else httpx.AsyncHTTPTransport
    http = http_type(**_with_defaults(kwargs, transport, direct_hosts))
    use_fair_pools(http)  # many requests in flight reuse their connections (see `_pool`)
    return http


def default_http_client(**kwargs: Any) -> httpx.Client:
    """An `httpx.Client` with the library's defaults; `kwargs` are `httpx.Client` arguments.

    Defaults: the library's timeouts and pool limits (`DEFAULT_LIMITS`, with `_pool`'s
    fair assignment of connections), `follow_redirects=False`, and
    loopback hosts (`localhost`, `127.0.0.1`, `::1`) reached without any proxy from the
    environment. An argument given here wins over its default; `mounts=` are added to the
    loopback ones (a caller's pattern wins). With `transport=`, httpx ignores environment
    proxies altogether, and no loopback mounts are added.
    """
    return build_http_client(httpx.Client, **kwargs)


def default_async_http_client(**kwargs: Any) -> httpx.AsyncClient:
    """An `httpx.AsyncClient` with the library's defaults; see `default_http_client`."""
    return build_http_client(httpx.AsyncClient, **kwargs)


def _with_defaults(
    kwargs: dict[str, Any],
    transport_type: type[httpx.HTTPTransport | httpx.AsyncHTTPTransport],
    direct_hosts: Sequence[str] = (),
) -> dict[str, Any]:
    options: dict[str, Any] = {
        "timeout": DEFAULT_TIMEOUT,
        "limits": DEFAULT_LIMITS,
        "follow_redirects": False,
        **kwargs,
    }
    if options.get("transport") is None:
        if "verify" not in options and "cert" not in options:
            # One TLS context for the client's transport and every mount: httpx builds one
            # per transport otherwise, and each reads the whole CA bundle (about 15 ms).
            # This one reads it at its first TLS connection: a plain-http client never does.
            from together_queue._tls import client_tls_context

            options["verify"] = client_tls_context(trust_env=options.get("trust_env", True))
        transport_args = {k: options[k] for k in _TRANSPORT_ARGS if k in options}
        patterns = dict.fromkeys((*LOOPBACK_PATTERNS, *map(direct_mount, direct_hosts)))
        mounts: dict[str, Any] = {p: transport_type(**transport_args) for p in patterns}
        mounts.update(options.get("mounts") or {})
        options["mounts"] = mounts
    return options
