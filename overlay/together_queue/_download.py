"""Downloading an output file: the key to the API's origin only, streamed, written atomically.

A worker's file output is a URL such as ``https://api.together.ai/v1/storage/<name>``,
which answers with a redirect to a signed URL elsewhere. ``download`` follows the
redirects itself, one hop at a time, so that every hop is checked:

- the key goes out through the client's ``BearerAuth``, which adds it only when the
  hop's origin is the API's own; a signed URL on another origin never sees it;
- a hop to plain ``http://`` on a host off this machine is refused, as for every call;
- the body streams into a temporary file beside the destination, renamed over it only
  once complete, so a failure leaves no half file behind (and no temporary file).

Sync and async share everything but the loop that sends and writes.
"""

from __future__ import annotations

import os
import tempfile
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from together_queue._auth import origin_of
from together_queue._config import is_loopback_host
from together_queue._retry import transport_error
from together_queue.errors import (
    APIConnectionError,
    APIStatusError,
    ConfigurationError,
    InsecureTransportError,
    status_error_class,
)

__all__ = ["MAX_REDIRECTS", "Dest", "ProgressCallback", "download_async", "download_sync"]

MAX_REDIRECTS = 5
"""The most redirects one download follows."""

_CHUNK = 256 * 1024

ProgressCallback = Callable[[int, "int | None"], None]
"""``on_progress(received_bytes, total_bytes_or_None)``, called after every chunk."""

Dest = str | os.PathLike[str]
"""Where a download goes: a file path, or an existing folder (the URL's file name in it)."""

Origin = tuple[str, str, int]


def _parse(url: object) -> httpx.URL:
    if not isinstance(url, str | httpx.URL):
        raise TypeError(f"url must be a string, got {type(url).__name__}")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ConfigurationError(f"cannot download {url!r}: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigurationError(
            f"cannot download {str(url)!r}: expected an absolute http(s):// URL"
        )
    return parsed


def _check_hop(url: httpx.URL, api_origin: Origin) -> None:
    """Refuse clear text to a host off this machine (the API's own origin was allowed)."""
    if url.scheme == "http" and not is_loopback_host(url.host) and origin_of(url) != api_origin:
        raise InsecureTransportError(
            f"refusing to download from {url.host} over plain http://; use https://"
        )


def _public(url: httpx.URL) -> str:
    """``url`` without its query: a signed URL's signature stays out of messages."""
    return str(url.copy_with(query=None))


def _target(dest: Dest, url: httpx.URL) -> Path:
    """The file to write: ``dest``, or the URL's file name inside ``dest`` if a folder."""
    path = Path(dest)
    if not path.is_dir():
        return path
    name = urllib.parse.unquote(url.path.rsplit("/", 1)[-1])
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise ConfigurationError(
            f"cannot name the file of {_public(url)}: give a file path as dest, not a folder"
        )
    return path / name


def _redirect(response: httpx.Response) -> httpx.URL | None:
    if not response.is_redirect:
        return None
    location = response.headers.get("location")
    if not location:
        return None
    return _parse(str(response.url.join(location)))


def _status_error(response: httpx.Response) -> APIStatusError:
    cls = status_error_class(response.status_code)
    return cls(
        status_code=response.status_code,
        body=response.text,
        headers={k.lower(): v for k, v in response.headers.items()},
        method="GET",
        url=_public(response.url),
    )


def _transport_error(exc: httpx.RequestError, url: httpx.URL) -> APIConnectionError:
    # The signed URL's query stays out of the message (see _public).
    return transport_error(exc, "GET", _public(url))


def _expected_length(response: httpx.Response) -> int | None:
    """The byte count the body must have, when the headers promise one we can check."""
    if response.headers.get("content-encoding", "identity").lower() != "identity":
        return None  # iter_bytes decodes: the declared length is of the encoded form
    declared = response.headers.get("content-length", "")
    return int(declared) if declared.isdigit() else None


class _PartFile:
    """A temporary file beside ``target``; ``commit`` renames it over ``target``."""

    def __init__(self, target: Path) -> None:
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        self.target = target
        self.path = Path(name)
        self._file = os.fdopen(fd, "wb")
        self.received = 0

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self.received += len(chunk)

    def commit(self, expected: int | None, url: httpx.URL) -> Path:
        if expected is not None and self.received != expected:
            raise APIConnectionError(
                f"incomplete download of {_public(url)}: {self.received} of {expected} bytes",
                method="GET",
                url=_public(url),
            )
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self.path, self.target)
        return self.target

    def discard(self) -> None:
        self._file.close()
        self.path.unlink(missing_ok=True)


def _open_part(dest: Dest, url: httpx.URL) -> _PartFile:
    return _PartFile(_target(dest, url))


def download_sync(
    http: httpx.Client,
    auth: httpx.Auth,
    base_url: str,
    url: str,
    dest: Dest,
    *,
    timeout: Any,
    on_progress: ProgressCallback | None = None,
) -> Path:
    """Download ``url`` to ``dest`` with a sync client (see the module docstring)."""
    api_origin = origin_of(httpx.URL(base_url))
    current = _parse(url)
    for _ in range(MAX_REDIRECTS + 1):
        _check_hop(current, api_origin)
        request = http.build_request("GET", current, timeout=timeout)
        try:
            response = http.send(request, auth=auth, stream=True, follow_redirects=False)
        except httpx.RequestError as exc:
            raise _transport_error(exc, current) from exc
        try:
            following = _redirect(response)
            if following is not None:
                current = following
                continue
            if not response.is_success:
                response.read()
                raise _status_error(response)
            part = _PartFile(_target(dest, current))
            try:
                expected = _expected_length(response)
                for chunk in response.iter_bytes(_CHUNK):
                    part.write(chunk)
                    if on_progress is not None:
                        on_progress(part.received, expected)
                return part.commit(expected, current)
            except httpx.RequestError as exc:
                part.discard()
                raise _transport_error(exc, current) from exc
            except BaseException:
                part.discard()
                raise
        finally:
            response.close()
    raise APIConnectionError(
        f"more than {MAX_REDIRECTS} redirects downloading {_public(_parse(url))}"
    )


async def download_async(
    http: httpx.AsyncClient,
    auth: httpx.Auth,
    base_url: str,
    url: str,
    dest: Dest,
    *,
    timeout: Any,
    on_progress: ProgressCallback | None = None,
) -> Path:
    """Download ``url`` to ``dest`` with an async client (see the module docstring)."""
    # Imported here: sync users should not pay for loading asyncio.
    import asyncio

    api_origin = origin_of(httpx.URL(base_url))
    current = _parse(url)
    for _ in range(MAX_REDIRECTS + 1):
        _check_hop(current, api_origin)
        request = http.build_request("GET", current, timeout=timeout)
        try:
            response = await http.send(request, auth=auth, stream=True, follow_redirects=False)
        except httpx.RequestError as exc:
            raise _transport_error(exc, current) from exc
        try:
            following = _redirect(response)
            if following is not None:
                current = following
                continue
            if not response.is_success:
                await response.aread()
                raise _status_error(response)
            # File work in a thread: the disk must not stall the caller's event loop.
            part = await asyncio.to_thread(_open_part, dest, current)
            try:
                expected = _expected_length(response)
                async for chunk in response.aiter_bytes(_CHUNK):
                    await asyncio.to_thread(part.write, chunk)
                    if on_progress is not None:
                        on_progress(part.received, expected)
                return await asyncio.to_thread(part.commit, expected, current)
            except httpx.RequestError as exc:
                await asyncio.to_thread(part.discard)
                raise _transport_error(exc, current) from exc
            except BaseException:
                # Not in a thread: on cancellation there may be no later chance to clean up.
                part.discard()
                raise
        finally:
            await response.aclose()
    raise APIConnectionError(
        f"more than {MAX_REDIRECTS} redirects downloading {_public(_parse(url))}"
    )
