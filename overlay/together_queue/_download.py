"""Downloading an output file: the key to the API's origin only, streamed, written atomically.

A worker's file output is a URL such as `https://api.together.ai/v1/storage/<name>`,
which answers with a redirect to a signed URL elsewhere. `download` follows the
redirects itself, one hop at a time, so that every hop is checked:

- the key goes out through the client's `BearerAuth`, which adds it only when the
  hop's origin is the API's own; a signed URL on another origin never sees it;
- a hop to plain `http://` on a host off this machine is refused, as for every call;
- the body streams into a temporary file beside the destination, which becomes the
  destination only once complete, so a failure leaves no half file behind (and no
  temporary file);
- the file is named by the caller: `dest`, or, when `dest` is a folder, the last
  path segment of the URL the caller passed, never of a redirect the server chose; a
  name from a URL must be a plain, visible file name (no leading dot, no control
  character); an existing file is replaced only with `overwrite=True`;
- messages name URLs without their query (a signature) and without `user:pw@`.

This module holds every decision; the loop that sends and writes is in
`_async/download.py` (and `_sync/download.py`, generated from it).
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import httpx

from together_queue._auth import origin_of
from together_queue._config import is_loopback_host
from together_queue._text import CONTROL_CHARACTERS
from together_queue.errors import (
    APIConnectionError,
    ConfigurationError,
    InsecureTransportError,
    public_url,
    transport_error,
)

__all__ = ["CHUNK", "MAX_REDIRECTS", "Dest", "ProgressCallback"]

MAX_REDIRECTS = 5
"""The most redirects one download follows."""

CHUNK = 256 * 1024
"""The most bytes one read of the body asks for."""

ProgressCallback = Callable[[int, "int | None"], None]
"""`on_progress(received_bytes, total_bytes_or_None)`, called after every chunk."""

Dest = str | os.PathLike[str]
"""Where a download goes: a file path, or an existing folder (the URL's file name in it)."""

Origin = tuple[str, str, int]


def parse_url(url: object) -> httpx.URL:
    """`url` as an absolute http(s) URL; a typed error naming it otherwise."""
    if not isinstance(url, str | httpx.URL):
        raise TypeError(f"url must be a string, got {type(url).__name__}")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ConfigurationError(
            f"cannot download {_without_userinfo(str(url))!r}: {exc}"
        ) from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigurationError(
            f"cannot download {_without_userinfo(str(url))!r}: expected an absolute http(s):// URL"
        )
    return parsed


def check_hop(url: httpx.URL, api_origin: Origin) -> None:
    """Refuse clear text to a host off this machine (the API's own origin was allowed)."""
    if url.scheme == "http" and not is_loopback_host(url.host) and origin_of(url) != api_origin:
        raise InsecureTransportError(
            f"refusing to download from {url.host} over plain http://; use https://"
        )


_USERINFO = re.compile(r"(//)[^/?#@]*@")


def _without_userinfo(text: str) -> str:
    """`text`, a URL that may not parse, with any `user:pw@` after `//` taken out."""
    return _USERINFO.sub(r"\1", text)


def _bad_name(name: str) -> str | None:
    """Why `name`, taken from a URL, cannot be the file's name; None when it can."""
    if not name or name in (".", ".."):
        return "is empty"
    if name.startswith("."):
        return "starts with a dot (a hidden or special file)"
    if "/" in name or "\\" in name or "\0" in name:
        return "contains a path separator"
    if CONTROL_CHARACTERS.search(name):
        return "contains a control character"
    return None


def download_target(dest: Dest, url: httpx.URL, *, overwrite: bool) -> Path:
    """The file a download of `url` writes: `dest`, or, if a folder, the URL's file name in it.

    `url` is the URL the caller passed: a redirect never chooses the name. A name taken
    from it must pass `_bad_name` (`ConfigurationError` otherwise). Without `overwrite`,
    an existing file (or symlink) at the target is a `FileExistsError`.
    """
    path = Path(dest)
    if path.is_dir():
        name = urllib.parse.unquote(url.path.rsplit("/", 1)[-1])
        problem = _bad_name(name)
        if problem is not None:
            raise ConfigurationError(
                f"cannot name the file of {public_url(url)}: its name {name!r} {problem}; "
                "give a file path as dest, not a folder"
            )
        path = path / name
    if not overwrite and os.path.lexists(path):
        raise _exists(path)
    return path


def _exists(path: Path) -> FileExistsError:
    return FileExistsError(
        errno.EEXIST, "a file is there already; pass overwrite=True to replace it", str(path)
    )


def redirect_target(response: httpx.Response) -> httpx.URL | None:
    """Where a redirect points (checked like the first URL); None when not a redirect."""
    if not response.is_redirect:
        return None
    location = response.headers.get("location")
    if not location:
        return None
    return parse_url(str(response.url.join(location)))


def transport_error_of(exc: httpx.RequestError, url: httpx.URL) -> APIConnectionError:
    """The typed error for a transport failure; the signed URL's query stays out of it."""
    return transport_error(exc, "GET", public_url(url))


def expected_length(response: httpx.Response) -> int | None:
    """The byte count the body must have, when the headers promise one we can check."""
    if response.headers.get("content-encoding", "identity").lower() != "identity":
        return None  # iter_bytes decodes: the declared length is of the encoded form
    declared = response.headers.get("content-length", "")
    return int(declared) if declared.isdigit() else None


class PartFile:
    """A temporary file beside `target`; `commit` makes it the target once complete.

    With `overwrite`, `commit` renames it over the target; without, it links it there,
    which fails (`FileExistsError`) if a file appeared there meanwhile: never replaced.
    """

    def __init__(self, target: Path, *, overwrite: bool) -> None:
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        self.target = target
        self.overwrite = overwrite
        self.path = Path(name)
        self._file = os.fdopen(fd, "wb")
        self.received = 0

    def write(self, chunk: bytes) -> None:
        """Append `chunk`."""
        self._file.write(chunk)
        self.received += len(chunk)

    def commit(self, expected: int | None, url: httpx.URL) -> Path:
        """Make the file the target once all `expected` bytes came; return the target."""
        if expected is not None and self.received != expected:
            raise APIConnectionError(
                f"incomplete download of {public_url(url)}: {self.received} of {expected} bytes",
                method="GET",
                url=public_url(url),
            )
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        if self.overwrite:
            os.replace(self.path, self.target)
            return self.target
        try:
            os.link(self.path, self.target)  # atomic, and never over an existing file
        except FileExistsError:
            raise _exists(self.target) from None
        except OSError:  # a file system without hard links: check, then rename
            if os.path.lexists(self.target):
                raise _exists(self.target) from None
            os.replace(self.path, self.target)
            return self.target
        self.path.unlink()
        return self.target

    def discard(self) -> None:
        """Close and remove the file: the download failed."""
        self._file.close()
        self.path.unlink(missing_ok=True)


def too_many_redirects(url: str) -> APIConnectionError:
    """The error for a download that was redirected more than `MAX_REDIRECTS` times."""
    return APIConnectionError(
        f"more than {MAX_REDIRECTS} redirects downloading {public_url(parse_url(url))}"
    )
