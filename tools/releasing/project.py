"""What the release pipeline knows about the project: its names, its layout, its version."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DIST_NAME = "together-queue"
"""The distribution name, as users `pip install` it."""
WHEEL_STEM = "together_queue"
"""The distribution name as it appears in wheel and sdist file names."""
PACKAGES = {"together_queue": "overlay", "together_queue_api": "generated"}
"""Each import package the distribution ships, mapped to the source folder holding it."""
VERSION_FILE = "overlay/together_queue/_version.py"
"""The one place the version is defined (read by hatchling, the CLI and this pipeline)."""
CHANGELOG = "CHANGELOG.md"


class ReleaseError(Exception):
    """A release step failed; the message says which and why."""


class Refused(ReleaseError):
    """`publish` refused to upload; the message says what to fix first."""


def version_from_source(source: str) -> str:
    """The `__version__ = "..."` string literal assigned in `source` (a _version.py text)."""
    for node in ast.parse(source).body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            return node.value.value
    raise ReleaseError(f"{VERSION_FILE} assigns no string literal to __version__")


def read_version(root: Path = ROOT) -> str:
    """The version of the project checked out at `root`."""
    return version_from_source((root / VERSION_FILE).read_text(encoding="utf-8"))
