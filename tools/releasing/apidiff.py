"""Breaking changes in the public API of both packages since the last release, by griffe.

The last release is its committed snapshot (`api/public-api-<version>.json`, see
`releasing.snapshot`): the snapshot of the version the work tree declares, once that
version is released, so work since a release is held to it; no git tag is needed.
Without a snapshot, the last `v*` tag; or any git ref given. griffe finds removed
objects and changed signatures; it does not compare type annotations, so
`annotation_changes` does: a public return, parameter or attribute whose annotation
text changed is reported as breaking too. Additions are listed, never a failure.

The emulator and the command line are applications: their Python API is what their
package exports (`together_queue.emulator.__all__`, `together_queue.cli.__all__`) and
the members of those objects. Their submodules are how they work, free to move
(`IMPLEMENTATION_PACKAGES`).

A break a release makes on purpose is declared, with its reason, in
`api/accepted-breaks.toml` for the release it goes into: api_diff lists it as accepted
instead of failing. Anything not declared for a release after the baseline still
needs a major version bump, so a removal nobody meant (say `QueueClient.metrics`)
always fails.
"""

from __future__ import annotations

import io
import re
import subprocess
import tarfile
import tempfile
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import griffe
from packaging.version import InvalidVersion, Version

from releasing.project import (
    PACKAGES,
    VERSION_FILE,
    ReleaseError,
    read_version,
    version_from_source,
)
from releasing.snapshot import baseline_snapshot, load_snapshot, load_tree

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
ACCEPTED_BREAKS = Path("api/accepted-breaks.toml")
"""Breaking changes declared on purpose, per version, each with its reason."""
IMPLEMENTATION_PACKAGES = ("together_queue.cli", "together_queue.emulator")
"""Packages whose API is their `__all__`: their submodules are not public API."""


@dataclass(frozen=True)
class Breakage:
    """One breaking change: the object's dotted path, what happened, griffe's explanation."""

    path: str
    kind: str
    explanation: str


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, check=False)


def last_release_tag(root: Path, exclude: str | None = None) -> str | None:
    """The latest `v*` tag reachable from HEAD other than `exclude`, or None when there is none.

    `exclude` is the tag of the version being released: in the release order
    (commit, tag, then api_diff) HEAD already carries it, and comparing the
    release with itself would find nothing.
    """
    args = ["describe", "--tags", "--abbrev=0", "--match", "v*"]
    if exclude is not None:
        args += ["--exclude", exclude]
    proc = _git(root, *args)
    if proc.returncode != 0:
        return None
    return proc.stdout.decode().strip() or None


def _export(root: Path, ref: str, dest: Path) -> None:
    """Write the package folders as of `ref` into `dest`, read-only on the repository."""
    # `git archive` leaves the repository untouched (griffe's own load_git adds a worktree).
    proc = _git(root, "archive", "--format=tar", ref, "--", *sorted(set(PACKAGES.values())))
    if proc.returncode != 0:
        raise ReleaseError(f"cannot read {ref!r} from {root}: {proc.stderr.decode().strip()}")
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
        tar.extractall(dest, filter="data")


def version_at(root: Path, ref: str) -> str:
    """The project version recorded at `ref`."""
    proc = _git(root, "show", f"{ref}:{VERSION_FILE}")
    if proc.returncode != 0:
        raise ReleaseError(f"{ref!r} has no {VERSION_FILE}: {proc.stderr.decode().strip()}")
    return version_from_source(proc.stdout.decode())


def _resolved(obj: griffe.Object | griffe.Alias) -> griffe.Object | None:
    """The object an alias finally points to (None when it leads outside the loaded code)."""
    if not obj.is_alias:
        return obj  # type: ignore[return-value]
    try:
        return obj.final_target  # type: ignore[union-attr]
    except (griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None


def public_objects(
    package: griffe.Object | griffe.Alias,
) -> Iterator[tuple[str, griffe.Object]]:
    """(public dotted path, object) of every object reachable from `package`, each once.

    An object reached by several public paths is reported under the first (members are
    walked in name order, so two trees agree on which).
    """
    seen: set[str] = set()

    def visit(obj: griffe.Object | griffe.Alias, path: str) -> Iterator[tuple[str, griffe.Object]]:
        target = _resolved(obj)
        if target is None or target.path in seen:
            return
        seen.add(target.path)
        yield path, target
        if target.kind in (griffe.Kind.MODULE, griffe.Kind.CLASS):
            for name in sorted(target.members):
                member = target.members[name]
                try:
                    public = member.is_public
                except (griffe.AliasResolutionError, griffe.CyclicAliasError):
                    continue
                if public:
                    yield from visit(member, f"{path}.{name}")

    yield from visit(package, package.path)


def public_annotations(package: griffe.Object | griffe.Alias) -> dict[str, str]:
    """Annotation text of every public return, parameter and attribute, by public path.

    Keys: `a.b.f -> return`, `a.b.f(param)`, `a.b.C.attr`.
    """
    found: dict[str, str] = {}
    for path, target in public_objects(package):
        if target.kind is griffe.Kind.FUNCTION:
            function: griffe.Function = target  # type: ignore[assignment]
            if function.returns is not None:
                found[f"{path} -> return"] = str(function.returns)
            for parameter in function.parameters:
                if parameter.annotation is not None:
                    found[f"{path}({parameter.name})"] = str(parameter.annotation)
        elif target.kind is griffe.Kind.ATTRIBUTE:
            annotation = target.annotation  # type: ignore[attr-defined]
            if annotation is not None:
                found[path] = str(annotation)
    return found


def annotation_changes(
    old: griffe.Object | griffe.Alias, new: griffe.Object | griffe.Alias
) -> list[Breakage]:
    """Public annotations present in both trees whose text differs (added ones are fine)."""
    before, after = public_annotations(old), public_annotations(new)
    changes = []
    for key in sorted(before.keys() & after.keys()):
        if before[key] != after[key]:
            path = key.split(" -> ", 1)[0].split("(", 1)[0]
            changes.append(
                Breakage(
                    path,
                    "annotation-changed",
                    f"{key}: annotation changed: {before[key]} -> {after[key]}",
                )
            )
    return changes


def public_paths(package: griffe.Object | griffe.Alias) -> set[str]:
    """The public dotted path of every object reachable from `package` (each object once)."""
    return {path for path, _ in public_objects(package)}


def additions(old: dict[str, griffe.Module], new: dict[str, griffe.Module]) -> list[str]:
    """Public paths in `new` that `old` does not have, sorted (new packages count whole)."""
    _hide_implementation(old)
    _hide_implementation(new)
    added: set[str] = set()
    for package, module in new.items():
        before = public_paths(old[package]) if package in old else set()
        added |= public_paths(module) - before
    # Report the topmost new object only: a new class's members are new too.
    return [p for p in sorted(added) if not any(p.startswith(a + ".") for a in added)]


def breaking_changes(old_root: Path, new_root: Path) -> list[Breakage]:
    """Every breaking change between the packages under `old_root` and under `new_root`."""
    # Static analysis only: nothing is imported, so neither tree's code runs.
    return breaking_changes_between(load_tree(old_root), load_tree(new_root))


def moved_objects(
    old: griffe.Object, new: griffe.Object
) -> Iterator[tuple[griffe.Object, griffe.Object]]:
    """(old, new) for each object `old` defines that `new` re-exports from elsewhere.

    A public class may move to another module and stay public through a re-export
    (`QueueClient` is generated into `together_queue._sync.client`, and
    `together_queue.client` re-exports it). griffe compares a class with an alias to
    it by path alone and never looks at the members, so a method removed from the
    moved class would go unseen: these pairs are compared once more, object to object.
    """
    for name, before in old.members.items():
        after = new.members.get(name)
        if after is None or before.is_alias:
            continue
        if after.is_alias:
            target = _resolved(after)
            if target is not None and target.kind is before.kind:
                yield before, target  # type: ignore[misc]
        elif before.is_module and after.is_module:
            yield from moved_objects(before, after)  # type: ignore[arg-type]


def public_homes(module: griffe.Object) -> dict[str, str]:
    """{private path: public path} of each object a public module exports from a private one.

    griffe names a change by the path of the object it found changed: for a class
    defined in a private module and re-exported (`together_queue._sync.client.QueueClient`
    as `together_queue.client.QueueClient`), the private path, which no user writes.
    """
    homes: dict[str, str] = {}
    if _is_private(module.path):
        return homes
    # A module's own `__all__` names its home objects; a package's re-exports are shortcuts.
    exported = set() if module.is_package else {str(name) for name in module.exports or ()}
    for name, member in module.members.items():
        if member.is_alias:
            target: str = member.target_path  # type: ignore[union-attr]
            if name not in exported:
                continue
            if _is_private(target) and target.rsplit(".", 1)[-1] == name:
                homes[target] = f"{module.path}.{name}"
        elif member.is_module:
            homes.update(public_homes(member))  # type: ignore[arg-type]
    return homes


def _is_private(path: str) -> bool:
    return any(part.startswith("_") and not part.startswith("__") for part in path.split("."))


def _public_path(path: str, homes: dict[str, str]) -> str:
    for private, public in homes.items():
        if path == private or path.startswith(private + "."):
            return public + path[len(private) :]
    return path


def _hide_implementation(tree: dict[str, griffe.Module]) -> None:
    """Mark the submodules of `IMPLEMENTATION_PACKAGES` non-public in `tree` (idempotent)."""
    for dotted in IMPLEMENTATION_PACKAGES:
        package, *parts = dotted.split(".")
        node: griffe.Object | griffe.Alias | None = tree.get(package)
        for part in parts:
            node = node.members.get(part) if node is not None else None
        if node is None or node.is_alias:
            continue
        for member in node.members.values():
            if not member.is_alias and member.is_module:
                member.public = False


def breaking_changes_between(
    old_tree: dict[str, griffe.Module], new_tree: dict[str, griffe.Module]
) -> list[Breakage]:
    """Every breaking change between two loaded trees (package name -> module)."""
    _hide_implementation(old_tree)
    _hide_implementation(new_tree)
    found = []
    for package in sorted(PACKAGES):
        old, new = old_tree[package], new_tree[package]
        homes = {**public_homes(new), **public_homes(old)}
        pairs = [(old, new), *moved_objects(old, new)]
        for breakage in (b for pair in pairs for b in griffe.find_breaking_changes(*pair)):
            explanation = _ANSI.sub("", breakage.explain(style=griffe.ExplanationStyle.ONE_LINE))
            # Drop griffe's `file:line: ` prefix: it points into a deleted temporary folder.
            explanation = explanation.split(": ", 1)[-1]
            path = _public_path(breakage.obj.path, homes)
            found.append(Breakage(path, breakage.kind.value, explanation))
        found += annotation_changes(old, new)
    return list(dict.fromkeys(found))


def accepted_breaks(root: Path, baseline: str, version: str) -> dict[str, str]:
    """`{path: reason}` of the breaks `api/accepted-breaks.toml` declares since `baseline`.

    A break compared with release `baseline` is accepted when it is declared for a
    release after it: up to `version` when the work tree's version has moved past
    `baseline`; for any later version while it has not (the next release's number is
    not written yet). Each `[[break]]` needs `version`, `path` (the dotted path
    api_diff reports) and a non-empty `reason`; ReleaseError on anything else, so a
    typo cannot hide a break.
    """
    try:
        after, upto = Version(baseline), Version(version)
    except InvalidVersion as exc:
        raise ReleaseError(f"not a PEP 440 version: {exc}") from exc
    file = root / ACCEPTED_BREAKS
    if not file.exists():
        return {}
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ReleaseError(f"{ACCEPTED_BREAKS}: not valid TOML: {exc}") from exc
    unknown = set(data) - {"break"}
    if unknown:
        raise ReleaseError(f"{ACCEPTED_BREAKS}: unknown keys {sorted(unknown)}")
    accepted: dict[str, str] = {}
    for number, entry in enumerate(data.get("break", []), start=1):
        fields = {"version", "path", "reason"}
        if not isinstance(entry, dict) or set(entry) != fields:
            raise ReleaseError(
                f"{ACCEPTED_BREAKS}: break {number} must have exactly {sorted(fields)}"
            )
        if not all(isinstance(entry[f], str) and entry[f].strip() for f in fields):
            raise ReleaseError(f"{ACCEPTED_BREAKS}: break {number} has an empty field")
        try:
            declared = Version(entry["version"])
        except InvalidVersion:
            raise ReleaseError(
                f"{ACCEPTED_BREAKS}: break {number}: not a PEP 440 version: {entry['version']!r}"
            ) from None
        if declared > after and (declared <= upto or upto <= after):
            accepted[entry["path"]] = entry["reason"]
    return accepted


def major_bumped(old: str, new: str) -> bool:
    """Whether `new`'s major version part is greater than `old`'s."""
    try:
        return Version(new).major > Version(old).major
    except InvalidVersion as exc:
        raise ReleaseError(f"not a PEP 440 version: {exc}") from exc


def api_diff(root: Path, ref: str | None = None) -> int:
    """Print the breaking changes and additions since the last release; return the exit status.

    The baseline: `ref` when given (a git ref); else the committed API snapshot of
    the newest release not after this version (`snapshot.baseline_snapshot`); else
    the last `v*` tag. 1 when there are breaking changes that are neither declared
    nor allowed by a major version bump; else 0.
    """
    new_version = read_version(root)
    new_tree = load_tree(root)
    if ref is None:
        snapshot = baseline_snapshot(root, new_version)
        if snapshot is not None:
            old_version, old_tree = load_snapshot(snapshot)
            label = f"{snapshot.relative_to(root)}"
            return _report(label, old_version, old_tree, new_version, new_tree, root)
        ref = last_release_tag(root, exclude=f"v{new_version}")
        if ref is None:
            print(
                f"api_diff: no API snapshot (api/public-api-*.json) and no release tag (v*) "
                f"other than v{new_version} yet, so there is no released API to compare with"
            )
            return 0
    old_version = version_at(root, ref)
    with tempfile.TemporaryDirectory(prefix="together-queue-api-") as tmp:
        _export(root, ref, Path(tmp))
        old_tree = load_tree(Path(tmp))
        return _report(ref, old_version, old_tree, new_version, new_tree, root)


def _report(
    label: str,
    old_version: str,
    old_tree: dict[str, griffe.Module],
    new_version: str,
    new_tree: dict[str, griffe.Module],
    root: Path,
) -> int:
    declared = accepted_breaks(root, old_version, new_version)
    found = breaking_changes_between(old_tree, new_tree)
    accepted = [b for b in found if b.path in declared]
    breaks = [b for b in found if b.path not in declared]
    added = additions(old_tree, new_tree)
    print(f"api_diff: public API of {', '.join(sorted(PACKAGES))}")
    print(f"  {label} (version {old_version}) -> work tree (version {new_version})")
    if added:
        print(f"api_diff: {len(added)} addition(s):")
        for path in added:
            print(f"  + {path}")
    if accepted:
        print(f"api_diff: {len(accepted)} breaking change(s) accepted in {ACCEPTED_BREAKS}:")
        for b in accepted:
            print(f"  ~ {b.path}: {b.kind} ({declared[b.path]})")
    if not breaks:
        print("api_diff: no breaking changes" + (" beyond the accepted ones" if accepted else ""))
        return 0
    print(f"api_diff: {len(breaks)} breaking change(s):")
    for b in breaks:
        print(f"  - {b.path}: {b.kind}")
        print(f"      {b.explanation}")
    if major_bumped(old_version, new_version):
        print(f"api_diff: allowed, the major version was bumped ({old_version} -> {new_version})")
        return 0
    print(
        f"api_diff: FAILED: breaking changes need a major version bump "
        f"(version is {new_version}, {label} had {old_version})"
    )
    return 1
