"""Tell uv to use the package indexes pip is configured with, read at run time.

uv reads neither pip.conf nor PIP_* variables, so on a machine whose pip is pointed at
a mirror, a local index or a wheel directory, a bare `uv pip install` would ask another
host. `nox -s lowest` feeds the output of `pip config list` (every scope, PIP_* env
included) through `uv_options` so that uv sees what pip sees; no index host is written
into the project. Standard library only.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

# pip's precedence, lowest first: a later scope overrides an earlier one.
_SCOPES = ("global", "user", "site", ":env:")
_LINE = re.compile(r"^(?P<scope>[^.\s]+|:env:)\.(?P<key>[a-z0-9_-]+)=(?P<value>.*)$")


@dataclass(frozen=True)
class UvOptions:
    """Arguments and environment for `uv pip install` matching pip's configuration."""

    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)


def parse_pip_config(text: str) -> dict[str, str]:
    """Settings from `pip config list` output, the highest-precedence scope winning.

    Lines look like `global.find-links='/opt/wheels'` or `:env:.index-url='...'`;
    keys are normalised to pip's dashed spelling (`find_links` -> `find-links`).
    """
    ranked: dict[str, tuple[int, str]] = {}
    for raw in text.splitlines():
        match = _LINE.match(raw.strip())
        if match is None:
            continue
        scope = match.group("scope")
        rank = _SCOPES.index(scope) if scope in _SCOPES else 0
        key = match.group("key").replace("_", "-")
        parts = shlex.split(match.group("value"))
        value = parts[0] if len(parts) == 1 else " ".join(parts)
        if key not in ranked or rank >= ranked[key][0]:
            ranked[key] = (rank, value)
    return {key: value for key, (_, value) in ranked.items()}


def _truthy(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def uv_options(settings: dict[str, str]) -> UvOptions:
    """Arguments for `uv pip install` from pip's index-url, extra-index-url, find-links, etc.

    Always asks for `--index-strategy unsafe-best-match`: pip picks the best version
    across all its indexes, while uv by default stops at the first index that has a
    package at all, so a local index holding only a package's newest release would
    hide its older ones from `--resolution lowest-direct`.
    """
    args: list[str] = []
    if "index-url" in settings:
        args += ["--default-index", settings["index-url"]]
    for url in settings.get("extra-index-url", "").split():
        args += ["--index", url]
    for place in settings.get("find-links", "").split():
        args += ["--find-links", place]
    for host in settings.get("trusted-host", "").split():
        args += ["--allow-insecure-host", host]
    if _truthy(settings.get("no-index", "")):
        args.append("--no-index")
    args += ["--index-strategy", "unsafe-best-match"]
    env = {"SSL_CERT_FILE": settings["cert"]} if settings.get("cert") else {}
    return UvOptions(args=args, env=env)
