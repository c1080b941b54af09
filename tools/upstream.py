"""Where Together's OpenAPI document comes from, and the record of which one was used.

`UPSTREAM_URL` is the one place the published document's address is written.
`tools/update_spec.py` fetches it when given no source (or another `http(s)://` URL
when given one) and writes `spec/upstream.toml`: the URL and the sha256 digest of the
exact bytes `openapi.yaml` was sliced from. A local file works offline; when its digest
is the one recorded, it is that same document and the recorded URL stays.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

UPSTREAM_URL = "https://raw.githubusercontent.com/togethercomputer/openapi/main/openapi.yaml"
"""Together's public OpenAPI document, as published from its repository."""

PROVENANCE = Path("spec") / "upstream.toml"
"""The provenance file, relative to the directory holding openapi.yaml."""

FETCH_TIMEOUT_SECONDS = 60.0
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
"""A document larger than this is refused: the whole public one is under 1 MB."""

_HEADER = (
    "# The upstream document openapi.yaml is sliced from, by URL and the sha256 of its\n"
    "# bytes. Written by tools/update_spec.py (nox -s update_spec); not edited by hand.\n"
)


class UpstreamError(Exception):
    """The upstream document could not be fetched, or the provenance file not read."""


def is_url(source: str) -> bool:
    """Whether `source` names a document over `http://` or `https://` (else it is a path)."""
    return source.startswith(("http://", "https://"))


def fetch(url: str) -> bytes:
    """The bytes at `url`: one GET, bounded in time and size; UpstreamError on failure."""
    if not is_url(url):
        raise UpstreamError(f"not an http(s) URL: {url!r}")
    # S310: the scheme is checked above, so no file: or custom scheme is opened.
    request = urllib.request.Request(url, headers={"Accept": "application/yaml, */*"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310
            data: bytes = response.read(MAX_DOCUMENT_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise UpstreamError(f"cannot fetch {url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise UpstreamError(
            f"cannot fetch {url}: {reason} (offline? pass a local copy: nox -s update_spec -- PATH)"
        ) from None
    if len(data) > MAX_DOCUMENT_BYTES:
        raise UpstreamError(f"{url} is larger than {MAX_DOCUMENT_BYTES} bytes: not an API document")
    return data


@dataclass(frozen=True)
class Provenance:
    """Which document `openapi.yaml` was sliced from: its URL (or local file name) and digest."""

    sha256: str
    url: str | None = None
    file: str | None = None
    """The local file's name, when no URL is known for the document."""

    def text(self) -> str:
        """The provenance file's content (stable: the same document gives the same bytes)."""
        where = f"url = {json.dumps(self.url)}" if self.url else f"file = {json.dumps(self.file)}"
        return f"{_HEADER}{where}\nsha256 = {json.dumps(self.sha256)}\n"

    def describe(self) -> str:
        """One line naming the document, for the tool's report."""
        where = self.url or f"the local file {self.file} (no URL known)"
        return f"{where}, sha256 {self.sha256}"


def digest(data: bytes) -> str:
    """The sha256 hex digest of `data`."""
    return hashlib.sha256(data).hexdigest()


def read_provenance(path: Path) -> Provenance | None:
    """The provenance recorded at `path`, or None when there is none yet."""
    if not path.is_file():
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UpstreamError(f"cannot read {path}: {exc}") from None
    sha256, url, file = data.get("sha256"), data.get("url"), data.get("file")
    if not isinstance(sha256, str) or not isinstance(url or file, str):
        raise UpstreamError(f"{path} needs `sha256` and one of `url` or `file`")
    return Provenance(sha256=sha256, url=url, file=file)


def provenance_of(
    data: bytes, *, url: str | None, path: Path | None, previous: Provenance | None
) -> Provenance:
    """The record for a document read from `url`, or from the local file `path`.

    A local file with the digest already recorded is the same document: the recorded
    URL stays, so slicing offline from a saved copy changes nothing.
    """
    sha256 = digest(data)
    if url is not None:
        return Provenance(sha256=sha256, url=url)
    if previous is not None and previous.sha256 == sha256:
        return previous
    return Provenance(sha256=sha256, file=path.name if path is not None else None)
