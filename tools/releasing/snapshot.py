"""Committed snapshots of the released public API: `api/public-api-<version>.json`.

A snapshot is what griffe reads statically from both packages at release time,
serialised as JSON (docstrings dropped, file paths relative to the project). `api_diff` compares the
work tree with one, so the check needs no git tag: a clone without tags, or a
shallow one, still knows what was released.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import griffe
from packaging.version import InvalidVersion, Version

from releasing.project import PACKAGES, ReleaseError

SNAPSHOT_DIR = "api"
_PREFIX = "public-api-"
FORMAT = 1
"""Bumped when the file layout changes (not griffe's object format, which griffe owns)."""


def snapshot_path(root: Path, version: str) -> Path:
    """Where the snapshot of `version` lives under the project `root`."""
    return root / SNAPSHOT_DIR / f"{_PREFIX}{version}.json"


def load_tree(root: Path) -> dict[str, griffe.Module]:
    """Both packages of the project at `root`, read statically (no code runs)."""
    modules = {}
    for package, folder in sorted(PACKAGES.items()):
        loaded = griffe.load(
            package, search_paths=[root / folder], resolve_aliases=True, allow_inspection=False
        )
        assert isinstance(loaded, griffe.Module)
        modules[package] = loaded
    return modules


# Not API. File paths are kept relative to the project (griffe's explanations name
# the file), so the snapshot does not depend on where it was written.
_DROPPED = frozenset({"docstring", "relative_filepath", "relative_package_filepath"})


def _api_only(node: Any, root: Path) -> Any:
    if isinstance(node, dict):
        return {
            k: _relative(v, root) if k == "filepath" else _api_only(v, root)
            for k, v in node.items()
            if k not in _DROPPED
        }
    if isinstance(node, list):
        return [_api_only(v, root) for v in node]
    return node


def _relative(value: Any, root: Path) -> Any:
    if isinstance(value, str):
        try:
            return Path(value).resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            return value
    if isinstance(value, list):  # a namespace package has several
        return [_relative(v, root) for v in value]
    return value


def snapshot_text(root: Path, version: str) -> str:
    """The snapshot of the project at `root` as `version`: stable JSON, one key per line."""
    packages = {
        name: _api_only(json.loads(module.as_json()), root)
        for name, module in load_tree(root).items()
    }
    data = {"format": FORMAT, "version": version, "packages": packages}
    # One value per line: diffable between releases without indentation bloat.
    return json.dumps(data, indent=0, sort_keys=True, ensure_ascii=False) + "\n"


def write_snapshot(root: Path, version: str) -> Path:
    """Write the snapshot of `root` as `version`; return its path."""
    path = snapshot_path(root, version)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(snapshot_text(root, version), encoding="utf-8")
    return path


def load_snapshot(path: Path) -> tuple[str, dict[str, griffe.Module]]:
    """(version, packages) of a snapshot file, with aliases resolvable inside it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReleaseError(f"cannot read the API snapshot {path}: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ReleaseError(f"{path} is not an API snapshot of format {FORMAT}")
    collection = griffe.ModulesCollection()
    modules: dict[str, griffe.Module] = {}
    for name, raw in data["packages"].items():
        module = json.loads(json.dumps(raw), object_hook=griffe.json_decoder)
        if not isinstance(module, griffe.Module):
            raise ReleaseError(f"{path}: package {name} is not a module")
        collection.set_member(module.path, module)
        # Decoded modules belong to no collection; aliases resolve through one.
        module._modules_collection = collection
        modules[name] = module
    return str(data["version"]), modules


def snapshot_versions(root: Path) -> dict[Version, Path]:
    """Every committed snapshot under `root`, by version (unparseable names are skipped)."""
    found: dict[Version, Path] = {}
    for path in sorted((root / SNAPSHOT_DIR).glob(f"{_PREFIX}*.json")):
        try:
            found[Version(path.stem.removeprefix(_PREFIX))] = path
        except InvalidVersion:
            continue
    return found


def baseline_snapshot(root: Path, version: str) -> Path | None:
    """The snapshot to compare the work tree at `version` with, or None.

    The newest snapshot not newer than `version`. The version moves only when a
    release is prepared, which writes its snapshot, so that is the current release:
    work since it is held to what it shipped. A snapshot newer than `version` (a
    later release on another branch) is never the baseline.
    """
    current = Version(version)
    found = snapshot_versions(root)
    released = [v for v in found if v <= current]
    return found[max(released)] if released else None
