"""What a package index already holds: versions read from its simple API (PEP 503 / PEP 691)."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from html import unescape
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    canonicalize_version,
    parse_sdist_filename,
    parse_wheel_filename,
)

from releasing.project import Refused, ReleaseError

_ACCEPT = ", ".join(
    (
        "application/vnd.pypi.simple.v1+json",
        "application/vnd.pypi.simple.v1+html;q=0.2",
        "text/html;q=0.1",
    )
)
_ANCHOR = re.compile(r"<a\s[^>]*>(?P<text>[^<]*)</a>", re.IGNORECASE)
_HREF = re.compile(r"""href\s*=\s*["'](?P<href>[^"']*)["']""", re.IGNORECASE)
_TIMEOUT = httpx.Timeout(30.0)


def simple_index_url(repository_url: str) -> str:
    """The simple-API root that goes with an upload URL (TWINE_REPOSITORY_URL).

    By the common layout: `.../legacy/` uploads are served from `.../simple/` on the
    same host, and pypiserver-style indexes serve `simple/` under the upload URL. An
    index that serves from another host or layout (devpi's `+simple/`, an index whose
    uploads go to a separate host) must be given explicitly (`publish --index-url`):
    no index host is written into this project.
    """
    parts = urlsplit(repository_url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ReleaseError(f"repository URL must be http(s) with a host, got {repository_url!r}")
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    path = path.removesuffix("legacy/") + "simple/"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def is_loopback(url: str) -> bool:
    """Whether `url`'s host is this machine (`localhost` or a loopback address)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_credentials_transport(url: str, env: Mapping[str, str]) -> None:
    """Refused when TWINE_PASSWORD would travel in clear text (http://) off this machine."""
    if env.get("TWINE_PASSWORD") and urlsplit(url).scheme == "http" and not is_loopback(url):
        raise Refused(
            f"refusing to send TWINE_PASSWORD over plain http:// to {urlsplit(url).hostname}; "
            "use https://"
        )


def _filenames_from_html(html: str) -> list[str]:
    names = []
    for anchor in _ANCHOR.finditer(html):
        href = _HREF.search(anchor.group(0))
        # The file name is the last path segment of the link; the anchor text is a fallback.
        path = urlsplit(unescape(href["href"])).path if href else ""
        names.append(unquote(path.rsplit("/", 1)[-1]) or unescape(anchor["text"]).strip())
    return names


def versions_from_filenames(project: str, filenames: Iterable[str]) -> set[str]:
    """Canonical versions of `project` among distribution file names (others are ignored)."""
    versions = set()
    wanted = canonicalize_name(project)
    for filename in filenames:
        try:
            if filename.endswith(".whl"):
                name, version, _, _ = parse_wheel_filename(filename)
            elif filename.endswith((".tar.gz", ".zip")):
                name, version = parse_sdist_filename(filename)
            else:
                continue
        except (InvalidWheelFilename, InvalidSdistFilename):
            continue
        if name == wanted:
            versions.add(canonicalize_version(version))
    return versions


def versions_from_page(project: str, content_type: str, body: str) -> set[str]:
    """The versions listed on a simple-API project page, JSON (PEP 691) or HTML (PEP 503)."""
    if "json" in content_type:
        files = json.loads(body).get("files", [])
        return versions_from_filenames(project, (f["filename"] for f in files))
    return versions_from_filenames(project, _filenames_from_html(body))


def published_versions(
    simple_url: str, project: str, auth: tuple[str, str] | None = None
) -> set[str]:
    """The versions of `project` the index at `simple_url` serves (empty if it has none).

    Asks anonymously first and sends `auth` only if the index demands it (and never
    over plain http:// off this machine). A redirect or an unexpected answer is an
    error: publish must not guess that a version is new. A 404 for the project means
    "no versions" only when the simple root itself answers 200; otherwise the URL is
    probably not a simple index at all (Refused: pass `--index-url`).
    """
    root = simple_url.rstrip("/") + "/"
    url = root + f"{canonicalize_name(project)}/"
    headers = {"Accept": _ACCEPT}
    if auth is not None and urlsplit(url).scheme == "http" and not is_loopback(url):
        auth = None  # a password in clear text over the network: better an error below
    with httpx.Client(timeout=_TIMEOUT, follow_redirects=False, headers=headers) as client:

        def get(target: str) -> httpx.Response:
            try:
                response = client.get(target)
                if response.status_code in {401, 403} and auth is not None:
                    response = client.get(target, auth=auth)
            except httpx.HTTPError as exc:
                raise ReleaseError(f"cannot read {target}: {exc}") from exc
            return response

        response = get(url)
        if response.status_code == 404:
            root_status = get(root).status_code
            if root_status != 200:
                raise Refused(
                    f"{url} answered 404 and {root} answered HTTP {root_status}: that is not "
                    "a simple-API index root, so a 404 proves nothing; pass --index-url "
                    "with the index's simple-API root"
                )
            return set()
    if response.is_redirect:
        raise Refused(_redirect_hint(url, response))
    if response.status_code != 200:
        where = response.headers.get("location", "")
        raise ReleaseError(
            f"cannot tell which versions {url} holds: HTTP {response.status_code} {where}".strip()
        )
    return versions_from_page(project, response.headers.get("content-type", ""), response.text)


def _redirect_hint(url: str, response: httpx.Response) -> str:
    """Why a redirect of a project page stops publish, and what to change."""
    location = response.headers.get("location", "(no Location header)")
    return (
        f"{url} answered HTTP {response.status_code}, a redirect to {location}: the index "
        "does not answer for this project itself, so which versions it holds is unknown. "
        "pypiserver redirects the names it does not hold to its fallback index unless it "
        "runs with --disable-fallback: restart it so (`pypi-server run --disable-fallback "
        "...`), or pass --index-url with a simple-API root that answers for the project"
    )
