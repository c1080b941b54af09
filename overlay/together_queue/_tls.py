"""The clients' TLS context: it reads its CA certificates at its first TLS connection.

Reading a CA bundle takes about 15 ms, and a client built its context when it was made:
also a client of a local emulator over plain http, which never opens a TLS connection.
`client_tls_context` gives the context httpx would build by default, with the settings
of `ssl.create_default_context` on this Python, trusting no CA until a connection is
about to use it. Every TLS connection goes through `wrap_socket` (sync) or `wrap_bio`
(asyncio), which load the certificates first, once. A use that got past them would
find no CA trusted and fail: never a connection left unverified.
"""

from __future__ import annotations

import os
import ssl
import threading
from pathlib import Path
from typing import Any, Final

__all__ = ["DeferredTrustContext", "UnreadableCA", "client_tls_context"]

# What `ssl.create_default_context` may set besides the CA certificates, copied from one
# it made; a name this Python lacks is skipped.
_SETTINGS: Final = (
    "options",
    "verify_mode",
    "check_hostname",
    "verify_flags",
    "minimum_version",
    "maximum_version",
    "post_handshake_auth",
    "keylog_filename",
)

_NO_CERTIFICATES: Final = str(Path(__file__).parent)
"""A folder that holds no certificate: a context given it as `capath` trusts nothing and
reads nothing (OpenSSL looks there for hashed names only when it verifies)."""


class UnreadableCA(ssl.SSLError):
    """The CA certificates a context was given cannot be read (a missing or non-PEM file).

    An `SSLError`, as a failed handshake is: httpcore's sync and async connects both
    turn it into a connection error.
    """

    def __str__(self) -> str:
        return str(self.args[0])  # SSLError's own shows a one-item tuple


class DeferredTrustContext(ssl.SSLContext):
    """A client `SSLContext` that loads `cafile` or `capath` before its first connection."""

    _source: tuple[str | None, str | None]
    _lock: threading.Lock
    _trusting: threading.Event  # set once the certificates are loaded

    def __new__(cls, cafile: str | None = None, capath: str | None = None) -> DeferredTrustContext:
        """A TLS client context (the arguments are taken by `__init__`)."""
        return super().__new__(cls, ssl.PROTOCOL_TLS_CLIENT)

    def __init__(self, cafile: str | None = None, capath: str | None = None) -> None:
        """Settings as `ssl.create_default_context()` makes them; `cafile`/`capath` loaded later."""
        template = ssl.create_default_context(capath=_NO_CERTIFICATES)
        for name in _SETTINGS:
            if hasattr(template, name):
                setattr(self, name, getattr(template, name))
        self._source = (cafile, capath)
        self._lock = threading.Lock()
        self._trusting = threading.Event()

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        """`SSLContext.wrap_socket`, once the CA certificates are loaded."""
        self._trust()
        return super().wrap_socket(*args, **kwargs)

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        """`SSLContext.wrap_bio`, once the CA certificates are loaded."""
        self._trust()
        return super().wrap_bio(*args, **kwargs)

    def _trust(self) -> None:
        if self._trusting.is_set():
            return
        with self._lock:  # connections on several threads: one loads, the others wait
            if self._trusting.is_set():
                return
            cafile, capath = self._source
            try:
                self.load_verify_locations(cafile=cafile, capath=capath)
            except OSError as exc:  # ssl.SSLError too; named here, a connection error would not
                where = cafile if cafile is not None else capath
                raise UnreadableCA(f"cannot read the CA certificates in {where!r}: {exc}") from exc
            self._trusting.set()


def client_tls_context(*, trust_env: bool = True) -> DeferredTrustContext:
    """The default client context of httpx (`httpx.create_ssl_context`), its CAs read at first use.

    The same CA certificates: `SSL_CERT_FILE`, else `SSL_CERT_DIR`, when `trust_env`
    (read now, as httpx does); else certifi's bundle.
    """
    if trust_env and os.environ.get("SSL_CERT_FILE"):
        return DeferredTrustContext(cafile=os.environ["SSL_CERT_FILE"])
    if trust_env and os.environ.get("SSL_CERT_DIR"):
        return DeferredTrustContext(capath=os.environ["SSL_CERT_DIR"])
    import certifi  # httpx's own source of CAs, imported only for this

    return DeferredTrustContext(cafile=certifi.where())
