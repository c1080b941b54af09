"""The API key on the wire: an `httpx.Auth` that adds it only for the API's own origin.

The key lives in one object, `BearerAuth`, and is written into a request's headers
by httpx while the request is being sent. No frame of ours ever holds the header
in a local variable, so a traceback printed with its locals (`capture_locals=True`,
Sentry, `pytest --showlocals`) cannot show it, and `repr()` of the auth object
redacts it. The origin check means a redirect or a download URL on another host
never receives the key, whoever follows it.
"""

from __future__ import annotations

from collections.abc import Generator

import httpx

from together_queue._config import Secret

__all__ = ["BearerAuth", "origin_of"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: httpx.URL) -> tuple[str, str, int]:
    """(scheme, host, port) of `url`, the port made explicit (RFC 6454 origin)."""
    scheme = url.scheme.lower()
    port = url.port if url.port is not None else _DEFAULT_PORTS.get(scheme, 0)
    return scheme, url.host.lower(), port


class BearerAuth(httpx.Auth):
    """`Authorization: Bearer <key>` on requests to `origin`, and on no other request."""

    def __init__(self, key: Secret | None, origin: tuple[str, str, int]) -> None:
        self._key = key
        self._origin = origin

    def applies_to(self, url: httpx.URL) -> bool:
        """Whether a request to `url` carries the key (a key exists and the origin matches)."""
        return self._key is not None and origin_of(url) == self._origin

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add the header when the request goes to the API's origin; send it either way."""
        if origin_of(request.url) != self._origin:
            # A header set on the caller's own http client must not leak off-origin either.
            request.headers.pop("Authorization", None)
        elif self._key is not None:
            request.headers["Authorization"] = "Bearer " + self._key.reveal()
        yield request

    def __repr__(self) -> str:
        scheme, host, port = self._origin
        key = "None" if self._key is None else "'***'"
        return f"BearerAuth(origin='{scheme}://{host}:{port}', key={key})"
