"""Watching TLS contexts read CA files, however httpx or the library makes them."""

from __future__ import annotations

import ssl
from typing import Any

import pytest

__all__ = ["ca_files_read"]


def ca_files_read(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The CA files any `SSLContext` loads from now on (a bundle read is about 15 ms).

    A load that names only a folder reads no certificate (OpenSSL looks in it only when
    it verifies one): not listed.
    """
    read: list[object] = []
    load = ssl.SSLContext.load_verify_locations

    def recording(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        cafile = kwargs.get("cafile") or (args[0] if args else None)
        if cafile:
            read.append(cafile)
        load(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", recording)
    return read
