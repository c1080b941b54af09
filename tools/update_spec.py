"""Rebuild openapi.yaml from a whole upstream Together OpenAPI document, then regenerate.

Usage:
    python tools/update_spec.py [PATH_OR_URL]

Steps: read the document: Together's published one (`upstream.UPSTREAM_URL`) when no
source is given, else the `http(s)://` URL or the local PATH (YAML or JSON, works
offline); keep the operations tagged `Queue` and every
component they reference, transitively; apply the project's adjustments from
spec/overlay.yaml (OpenAPI Overlay 1.0.0), skipping and naming any update that
upstream already contains (it is redundant: delete it from the overlay); sort the
paths; validate with openapi-spec-validator; write openapi.yaml; regenerate
generated/ with tools/codegen.py; record the document's URL and sha256 in
spec/upstream.toml; print what changed. Bad input stops with one `error: ...` line on
stderr (exit 1, or 2 for usage) and leaves openapi.yaml, generated/ and the record
untouched.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import unquote

import codegen
import upstream
import yaml
from openapi_spec_validator import validate as validate_openapi

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPEC = ROOT / "openapi.yaml"
DEFAULT_OVERLAY = ROOT / "spec" / "overlay.yaml"
DEFAULT_CONFIG = codegen.DEFAULT_CONFIG
DEFAULT_OUTPUT = codegen.DEFAULT_OUTPUT
TAG = "Queue"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
COMPONENT_REF = re.compile(r"^#/components/([^/]+)/([^/]+)(/.*)?$")

Json = Any
Regenerate = Callable[[Path, Path, Path], bool]


class SpecError(Exception):
    """Bad input or a failed step; the message is the one-line reason."""


# --- loading --------------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps timestamps as strings: OpenAPI documents are JSON data."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _parse_text(text: str, source: str) -> Json:
    if text.lstrip().startswith(("{", "[")):
        # Looks like JSON: the JSON parser gives the clearer message when it is not.
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(f"{source} is not valid JSON: {exc}") from None
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SpecError(f"{source} is not valid YAML or JSON: {problem}{where}") from None


def read_file(path: Path, what: str) -> bytes:
    """The bytes of `path`; SpecError naming `what` when it is missing or unreadable."""
    if not path.exists():
        raise SpecError(f"{what} {path} does not exist")
    if not path.is_file():
        raise SpecError(f"{what} {path} is not a file")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SpecError(f"cannot read {what} {path}: {exc.strerror}") from None


def parse_mapping(data: bytes, source: str) -> dict[str, Json]:
    """`data` (UTF-8 YAML or JSON, from `source`) as its top-level mapping."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(f"{source} is not UTF-8 text") from None
    parsed = _parse_text(text, source)
    if not isinstance(parsed, dict):
        kind = "empty" if parsed is None else f"a {type(parsed).__name__}"
        raise SpecError(f"{source} is {kind}, not a YAML/JSON mapping")
    return parsed


def load_mapping(path: Path, what: str) -> dict[str, Json]:
    """Read `path` as YAML or JSON and return its top-level mapping."""
    return parse_mapping(read_file(path, what), f"{what} {path}")


def check_openapi3(doc: dict[str, Json], source: str) -> None:
    """Raise SpecError unless `doc` declares an OpenAPI 3.x version."""
    if "swagger" in doc:
        raise SpecError(f"{source} is Swagger {doc['swagger']}, not OpenAPI 3.x")
    version = doc.get("openapi")
    if version is None:
        raise SpecError(f"{source} is not an OpenAPI document (no `openapi` version field)")
    if not isinstance(version, str) or not re.fullmatch(r"3\.\d+\.\d+(-.+)?", version):
        raise SpecError(f"{source} declares openapi {version!r}; only OpenAPI 3.x is supported")


# --- slicing --------------------------------------------------------------------------------------


def _where(loc: tuple[Json, ...]) -> str:
    """Render a location as a JSONPath-like string, e.g. paths['/queue/submit'].post."""
    out = ""
    for key in loc:
        if isinstance(key, int):
            out += f"[{key}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(key)):
            out += f".{key}" if out else str(key)
        else:
            out += f"[{str(key)!r}]"
    return out or "$"


def _refs(node: Json, loc: tuple[Json, ...]) -> Iterator[tuple[str, tuple[Json, ...]]]:
    """Yield every reference below `node` with its location: $ref values and mapping targets."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield ref, loc
        disc = node.get("discriminator")
        if isinstance(disc, dict) and isinstance(disc.get("mapping"), dict):
            for value in disc["mapping"].values():
                # A mapping value is a schema name or a reference (Discriminator Object).
                if isinstance(value, str):
                    target = value if "#" in value else f"#/components/schemas/{value}"
                    yield target, (*loc, "discriminator", "mapping")
        for key, value in node.items():
            if key != "$ref":
                yield from _refs(value, (*loc, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _refs(value, (*loc, i))


def _components(doc: dict[str, Json]) -> dict[str, Json]:
    comps = doc.get("components")
    return comps if isinstance(comps, dict) else {}


def _unescape(token: str) -> str:
    """Decode one JSON Pointer token taken from a URI fragment (RFC 6901, sections 4 and 6)."""
    return unquote(token).replace("~1", "/").replace("~0", "~")


def _resolve(doc: dict[str, Json], ref: str, loc: tuple[Json, ...]) -> tuple[str, str]:
    """Return (kind, name) of the component `ref` points into, or raise SpecError."""
    match = COMPONENT_REF.match(ref)
    if match is None:
        raise SpecError(
            f"unsupported $ref {ref!r} at {_where(loc)}: only local "
            "'#/components/<kind>/<name>' references can be sliced"
        )
    kind, name = _unescape(match.group(1)), _unescape(match.group(2))
    node = _components(doc).get(kind)
    node = node.get(name) if isinstance(node, dict) else None
    for token in (match.group(3) or "").split("/")[1:]:
        key = _unescape(token)
        if isinstance(node, dict):
            node = node.get(key)
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            node = None
    if node is None:
        raise SpecError(f"dangling $ref {ref!r} at {_where(loc)}")
    return kind, name


def _security_names(
    requirements: Json, loc: tuple[Json, ...]
) -> Iterator[tuple[str, tuple[Json, ...]]]:
    if isinstance(requirements, list):
        for i, requirement in enumerate(requirements):
            if isinstance(requirement, dict):
                for scheme in requirement:
                    yield str(scheme), (*loc, i)


def slice_operations(doc: dict[str, Json], source: str, tag: str = TAG) -> dict[str, Json]:
    """Return a new document with only the operations tagged `tag` and what they reference.

    Paths come out sorted; everything else keeps the source's key order. The
    result shares no objects with `doc`.
    """
    paths: dict[str, Json] = {}
    raw_paths = doc.get("paths")
    if not isinstance(raw_paths, dict):
        raw_paths = {}
    for path in sorted(raw_paths, key=str):
        item = raw_paths[path]
        if not isinstance(item, dict):
            continue
        ops = [
            m
            for m in HTTP_METHODS
            if isinstance(item.get(m), dict)
            and isinstance(item[m].get("tags"), list)
            and tag in item[m]["tags"]
        ]
        if ops:
            # Path-level fields (parameters, servers, summary) apply to the kept operations too.
            paths[path] = {
                k: copy.deepcopy(v) for k, v in item.items() if k not in HTTP_METHODS or k in ops
            }
    if not paths:
        raise SpecError(f"{source} has no operation tagged {tag!r}")

    out: dict[str, Json] = {
        k: copy.deepcopy(doc[k]) for k in ("openapi", "info", "servers", "security") if k in doc
    }
    out["paths"] = paths

    kept: set[tuple[str, str]] = set()
    schemes = _components(doc).get("securitySchemes") or {}
    todo: list[tuple[str, tuple[Json, ...]]] = list(_refs(paths, ("paths",)))
    requirements = list(_security_names(doc.get("security"), ("security",)))
    for path, item in paths.items():
        for method in HTTP_METHODS:
            if method in item:
                loc = ("paths", path, method, "security")
                requirements.extend(_security_names(item[method].get("security"), loc))
    for scheme, loc in requirements:
        if scheme not in schemes:
            raise SpecError(f"security scheme {scheme!r} used at {_where(loc)} is not defined")
        todo.append((f"#/components/securitySchemes/{scheme}", loc))
    while todo:
        ref, loc = todo.pop()
        key = _resolve(doc, ref, loc)
        if key in kept:
            continue
        kept.add(key)
        kind, name = key
        todo.extend(_refs(doc["components"][kind][name], ("components", kind, name)))

    components: dict[str, Json] = {}
    for kind, members in _components(doc).items():
        if isinstance(members, dict):
            chosen = {n: copy.deepcopy(v) for n, v in members.items() if (kind, n) in kept}
            if chosen:
                components[kind] = chosen
    if components:
        out["components"] = components
    return out


def find_dangling(doc: dict[str, Json]) -> None:
    """Raise SpecError for the first reference in `doc` that does not resolve inside it."""
    for ref, loc in _refs(doc, ()):
        _resolve(doc, ref, loc)


# --- overlay (OpenAPI Overlay 1.0.0, JSONPath subset) ---------------------------------------------

_NAME = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)")
_QUOTED = re.compile(r"""\[(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\]""")
_WILD = re.compile(r"\.\*|\[\*\]")
WILDCARD = object()  # a selector segment meaning "every child"


def parse_jsonpath(expr: str) -> list[object]:
    """Split a JSONPath into name selectors (str) and WILDCARD.

    Supported: `$`, `.name`, `['name']`, `["name"]`, `.*` and `[*]` (RFC 9535
    syntax); anything else raises SpecError.
    """
    if not expr.startswith("$"):
        raise SpecError(f"overlay target {expr!r} must start with '$'")
    segments: list[object] = []
    pos = 1
    while pos < len(expr):
        if m := _WILD.match(expr, pos):
            segments.append(WILDCARD)
        elif m := _NAME.match(expr, pos):
            segments.append(m.group(1))
        elif m := _QUOTED.match(expr, pos):
            raw = m.group(1) if m.group(1) is not None else m.group(2)
            segments.append(re.sub(r"\\(.)", r"\1", raw))
        else:
            raise SpecError(
                f"overlay target {expr!r}: unsupported JSONPath at {expr[pos:]!r} "
                "(supported: $, .name, ['name'], [*])"
            )
        pos = m.end()
    return segments


def select(doc: Json, segments: list[object]) -> list[tuple[Json, Json]]:
    """Return (container, key) for every node `segments` selects; (None, None) is the root."""
    found: list[tuple[Json, Json]] = [(None, None)]
    for seg in segments:
        nxt: list[tuple[Json, Json]] = []
        for parent, key in found:
            node = doc if parent is None else parent[key]
            if seg is WILDCARD:
                if isinstance(node, dict):
                    nxt.extend((node, k) for k in node)
                elif isinstance(node, list):
                    nxt.extend((node, i) for i in range(len(node)))
            elif isinstance(node, dict) and seg in node:
                nxt.append((node, seg))
        found = nxt
    return found


def deep_merge(target: dict[str, Json], update: dict[str, Json]) -> None:
    """Merge `update` into `target`: objects recursively, arrays appended, the rest replaced."""
    for key, value in update.items():
        old = target.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            deep_merge(old, value)
        elif isinstance(old, list) and isinstance(value, list):
            old.extend(copy.deepcopy(value))
        else:
            target[key] = copy.deepcopy(value)


_ACTION_KEYS = {"target", "description", "update", "remove"}


def load_overlay(path: Path) -> list[dict[str, Json]]:
    """Read an Overlay 1.0.x document and return its checked actions."""
    overlay = load_mapping(path, "overlay")
    version = overlay.get("overlay")
    if not isinstance(version, str) or not re.fullmatch(r"1\.0\.\d+", version):
        raise SpecError(f"overlay {path}: `overlay` must be a 1.0.x version, got {version!r}")
    info = overlay.get("info")
    if not isinstance(info, dict) or not {"title", "version"} <= info.keys():
        raise SpecError(f"overlay {path}: `info` needs `title` and `version`")
    actions = overlay.get("actions")
    if not isinstance(actions, list) or not actions:
        raise SpecError(f"overlay {path}: `actions` must be a non-empty list")
    for i, action in enumerate(actions):
        if not isinstance(action, dict) or not isinstance(action.get("target"), str):
            raise SpecError(f"overlay {path}: action {i} needs a string `target`")
        unknown = {k for k in action if k not in _ACTION_KEYS and not str(k).startswith("x-")}
        if unknown:
            raise SpecError(f"overlay {path}: action {i} has unknown fields {sorted(unknown)}")
        if not isinstance(action.get("remove", False), bool):
            raise SpecError(f"overlay {path}: action {i}: `remove` must be true or false")
        if "update" not in action and action.get("remove") is not True:
            raise SpecError(f"overlay {path}: action {i} has neither `update` nor `remove: true`")
        parse_jsonpath(action["target"])
    return actions


def contains(node: Json, update: Json) -> bool:
    """Whether `node` already holds everything `update` would merge into it.

    Objects: every key of `update` is present and holds its value (recursively).
    Arrays: every item of `update` is contained in some item of `node`.
    Anything else: equal.
    """
    if isinstance(update, dict):
        return isinstance(node, dict) and all(
            key in node and contains(node[key], value) for key, value in update.items()
        )
    if isinstance(update, list):
        return isinstance(node, list) and all(
            any(contains(have, item) for have in node) for item in update
        )
    return bool(node == update) and type(node) is type(update)


def _already_there(node: Json, update: Json) -> bool:
    if isinstance(node, list) and not isinstance(update, list):
        return any(contains(item, update) for item in node)  # an update appends to an array
    return contains(node, update)


def apply_overlay(doc: dict[str, Json], actions: list[dict[str, Json]]) -> list[str]:
    """Apply Overlay actions to `doc` in order, in place; return the redundant ones.

    `remove: true` deletes every selected node (selecting nothing is fine: the
    node is already gone). `update` merges into each selected object or appends
    to each selected array; an update that selects nothing is an error, since
    it means upstream moved what the project adjusts. An update whose every
    selected node already holds what it adds is not applied: upstream has caught
    up, and the returned line names the action so that it can be deleted.
    """
    redundant: list[str] = []
    for i, action in enumerate(actions):
        target = action["target"]
        hits = select(doc, parse_jsonpath(target))
        if action.get("remove") is True:
            if any(parent is None for parent, _ in hits):
                raise SpecError(f"overlay action {i} ({target}): cannot remove the root")
            # Delete from the back so earlier list indices stay valid.
            for parent, key in sorted(
                hits, key=lambda h: h[1] if isinstance(h[1], int) else 0, reverse=True
            ):
                del parent[key]
            continue
        if not hits:
            raise SpecError(f"overlay action {i} ({target}) selects nothing to update")
        if all(
            _already_there(doc if parent is None else parent[key], action["update"])
            for parent, key in hits
        ):
            why = _one_line(str(action.get("description", "")), 100)
            redundant.append(
                f"overlay action {i} ({target}) is redundant: upstream already has what it "
                f"adds ({why}); not applied, delete it from the overlay"
            )
            continue
        for parent, key in hits:
            node = doc if parent is None else parent[key]
            if isinstance(node, dict) and isinstance(action["update"], dict):
                deep_merge(node, action["update"])
            elif isinstance(node, list):
                node.append(copy.deepcopy(action["update"]))
            else:
                raise SpecError(
                    f"overlay action {i} ({target}): cannot merge "
                    f"{type(action['update']).__name__} into {type(node).__name__}"
                )
    return redundant


def sort_paths(doc: dict[str, Json]) -> None:
    """Order `paths` by path, whether a path came from upstream or from the overlay."""
    paths = doc.get("paths")
    if isinstance(paths, dict):
        ordered = sorted(paths.items(), key=lambda kv: str(kv[0]))
        paths.clear()
        paths.update(ordered)


def sort_responses(doc: dict[str, Json]) -> None:
    """Order every operation's responses by status code (`default` last).

    Overlay additions land at the end of the mapping; sorting keeps the
    document (and the generated status checks) in reading order.
    """
    for item in doc.get("paths", {}).values():
        for method in HTTP_METHODS:
            responses = item.get(method, {}).get("responses") if isinstance(item, dict) else None
            if isinstance(responses, dict):
                ordered = sorted(
                    responses.items(), key=lambda kv: (str(kv[0]) == "default", str(kv[0]))
                )
                responses.clear()
                responses.update(ordered)


# --- validation and output ------------------------------------------------------------------------


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def validate(doc: dict[str, Json]) -> None:
    """Validate `doc` with openapi-spec-validator; raise SpecError with the first problem."""
    try:
        validate_openapi(doc)
    # Whatever the validator raises (schema errors, unresolvable refs) means the slice is unusable.
    except Exception as exc:
        path = getattr(exc, "path", None) or getattr(exc, "absolute_path", None)
        where = f" at {_where(tuple(path))}" if path else ""
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        raise SpecError(
            f"the sliced document fails validation{where}: {_one_line(message)}"
        ) from None


class _Dumper(yaml.SafeDumper):
    """SafeDumper that writes multi-line strings as `|` blocks and never emits aliases."""

    def ignore_aliases(self, data: Json) -> bool:
        """Never share nodes via anchors: each spot in the spec is written in full."""
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump(doc: dict[str, Json]) -> str:
    """Serialise `doc` as YAML in a stable form (source key order, no re-wrapping)."""
    return yaml.dump(
        doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=10_000, indent=2
    )


def _atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data` in one rename, keeping the old file's permissions."""
    if path.exists():
        mode = path.stat().st_mode & 0o777
    else:
        # mkstemp creates 0600; a new file gets the usual umask-based mode instead.
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- change summary -------------------------------------------------------------------------------


def _operations(doc: dict[str, Json]) -> dict[tuple[str, str], Json]:
    ops: dict[tuple[str, str], Json] = {}
    for path, item in (doc.get("paths") or {}).items():
        for method in HTTP_METHODS:
            if isinstance(item, dict) and isinstance(item.get(method), dict):
                ops[(method.upper(), path)] = item[method]
    return ops


def _op_name(key: tuple[str, str], op: Json) -> str:
    return f"{key[0]} {key[1]} ({op.get('operationId', 'no operationId')})"


def _op_detail(old: Json, new: Json) -> str:
    """Say which responses and other fields of a changed operation differ."""
    added, removed, changed = _diff_keys(old.get("responses") or {}, new.get("responses") or {})
    parts = [
        *(f"+{c}" for c in added),
        *(f"-{c}" for c in removed),
        *(f"~{c}" for c in changed),
    ]
    detail = [f"responses {' '.join(parts)}"] if parts else []
    fields = [k for k in old.keys() | new.keys() if k != "responses" and old.get(k) != new.get(k)]
    if fields:
        detail.append(f"fields {', '.join(sorted(fields))}")
    return f" ({'; '.join(detail)})" if detail else ""


def _diff_keys(
    old: dict[str, Json], new: dict[str, Json]
) -> tuple[list[str], list[str], list[str]]:
    added = [k for k in new if k not in old]
    removed = [k for k in old if k not in new]
    changed = [k for k in new if k in old and old[k] != new[k]]
    return added, removed, changed


def summarize(old: dict[str, Json], new: dict[str, Json]) -> list[str]:
    """Describe how `new` differs from `old`: operations, schemas, other sections."""
    lines: list[str] = []
    old_ops, new_ops = _operations(old), _operations(new)
    lines.extend(
        f"operation added: {_op_name(k, op)}" for k, op in new_ops.items() if k not in old_ops
    )
    lines.extend(
        f"operation removed: {_op_name(k, op)}" for k, op in old_ops.items() if k not in new_ops
    )
    for key, op in new_ops.items():
        if key in old_ops and old_ops[key] != op:
            lines.append(f"operation changed: {_op_name(key, op)}{_op_detail(old_ops[key], op)}")

    old_comp, new_comp = old.get("components") or {}, new.get("components") or {}
    old_schemas, new_schemas = old_comp.get("schemas") or {}, new_comp.get("schemas") or {}
    added, removed, changed = _diff_keys(old_schemas, new_schemas)
    lines.extend(f"schema added: {name}" for name in added)
    lines.extend(f"schema removed: {name}" for name in removed)
    for name in changed:
        before, after = old_schemas[name], new_schemas[name]
        # A 3.1 schema may be a boolean; only objects have properties to compare.
        before = (before.get("properties") if isinstance(before, dict) else None) or {}
        after = (after.get("properties") if isinstance(after, dict) else None) or {}
        p_add, p_rm, p_chg = _diff_keys(before, after)
        detail = [
            *(f"+{p}" for p in p_add),
            *(f"-{p}" for p in p_rm),
            *(f"~{p}" for p in p_chg),
        ]
        lines.append(
            f"schema changed: {name}" + (f" (properties {' '.join(detail)})" if detail else "")
        )

    for kind in sorted((old_comp.keys() | new_comp.keys()) - {"schemas"}):
        added, removed, changed = _diff_keys(old_comp.get(kind) or {}, new_comp.get(kind) or {})
        for verb, names in (("added", added), ("removed", removed), ("changed", changed)):
            lines.extend(f"components/{kind} {verb}: {name}" for name in names)
    for section in ("openapi", "info", "servers", "security"):
        if old.get(section) != new.get(section):
            lines.append(f"{section} changed")
    return lines


# --- the whole step -------------------------------------------------------------------------------


@dataclass
class Result:
    """What `update_spec` did: the summary lines and whether each output changed."""

    changes: list[str] = field(default_factory=list)
    spec_changed: bool = False
    generated_changed: bool = False
    redundant: list[str] = field(default_factory=list)
    provenance: upstream.Provenance | None = None
    """The record written to spec/upstream.toml, when it changed."""

    def report(self) -> list[str]:
        """Return the human summary: redundant overlay actions, then each change or `No changes`."""
        recorded = []
        if self.provenance is not None:
            recorded.append(f"{upstream.PROVENANCE}: {self.provenance.describe()}")
        if not self.spec_changed and not self.generated_changed:
            return [
                *self.redundant,
                *recorded,
                "openapi.yaml: unchanged" if recorded else "No changes",
            ]
        lines = [*self.redundant, *recorded, *self.changes]
        if not self.spec_changed:
            lines.append("openapi.yaml: unchanged")
        elif not self.changes:
            lines.append("openapi.yaml: reformatted, no change in content")
        lines.append("generated/: " + ("regenerated" if self.generated_changed else "unchanged"))
        return lines


def build_spec(source: Path, overlay: Path, redundant: list[str] | None = None) -> dict[str, Json]:
    """Load, slice, adjust and validate: the document openapi.yaml should hold.

    Overlay actions that upstream has made redundant are appended to `redundant`.
    """
    return build_from(load_mapping(source, "input"), str(source), overlay, redundant)


def build_from(
    doc: dict[str, Json], source: str, overlay: Path, redundant: list[str] | None = None
) -> dict[str, Json]:
    """Slice, adjust and validate the upstream document `doc` (read from `source`)."""
    check_openapi3(doc, source)
    sliced = slice_operations(doc, source)
    found = apply_overlay(sliced, load_overlay(overlay))
    if redundant is not None:
        redundant.extend(found)
    sort_paths(sliced)
    sort_responses(sliced)
    find_dangling(sliced)
    validate(sliced)
    return sliced


def read_upstream(
    source: Path | str | None, previous: upstream.Provenance | None
) -> tuple[dict[str, Json], str, upstream.Provenance]:
    """(document, its name for messages, its provenance) for `source`.

    None is Together's published document (`upstream.UPSTREAM_URL`); a string starting
    with `http://` or `https://` is fetched; anything else is a local file.
    """
    if source is None:
        source = upstream.UPSTREAM_URL
    if isinstance(source, str) and upstream.is_url(source):
        try:
            data = upstream.fetch(source)
        except upstream.UpstreamError as exc:
            raise SpecError(str(exc)) from None
        record = upstream.provenance_of(data, url=source, path=None, previous=previous)
        return parse_mapping(data, f"input {source}"), source, record
    path = Path(source)
    data = read_file(path, "input")
    record = upstream.provenance_of(data, url=None, path=path, previous=previous)
    return parse_mapping(data, f"input {path}"), str(path), record


def update_spec(
    source: Path | str | None,
    *,
    spec_path: Path = DEFAULT_SPEC,
    overlay_path: Path = DEFAULT_OVERLAY,
    config_path: Path = DEFAULT_CONFIG,
    output_dir: Path = DEFAULT_OUTPUT,
    regenerate: Regenerate = codegen.generate,
) -> Result:
    """Rewrite `spec_path` from `source` and regenerate `output_dir`; return what changed.

    `source` is a path, an `http(s)://` URL, or None for Together's published document.
    The document's URL and digest go to `spec/upstream.toml` beside `spec_path`. On any
    error nothing is left changed: `spec_path` is only replaced once the new document
    is valid, put back if regeneration fails, and the record is written last.
    """
    provenance_path = spec_path.parent / upstream.PROVENANCE
    try:
        previous = upstream.read_provenance(provenance_path)
    except upstream.UpstreamError as exc:
        raise SpecError(str(exc)) from None
    doc, name, record = read_upstream(source, previous)
    redundant: list[str] = []
    new_doc = build_from(doc, name, overlay_path, redundant)
    new_bytes = dump(new_doc).encode("utf-8")
    old_bytes = spec_path.read_bytes() if spec_path.is_file() else None
    try:
        old_doc = yaml.load(old_bytes or b"{}", Loader=_Loader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError:
        old_doc = None
    result = Result(spec_changed=old_bytes != new_bytes, redundant=redundant)
    result.changes = summarize(old_doc if isinstance(old_doc, dict) else {}, new_doc)
    if result.spec_changed:
        try:
            _atomic_write(spec_path, new_bytes)
        except OSError as exc:
            raise SpecError(f"cannot write {spec_path}: {exc.strerror or exc}") from None
    try:
        result.generated_changed = regenerate(spec_path, config_path, output_dir)
    except BaseException as exc:
        if result.spec_changed:
            if old_bytes is None:
                spec_path.unlink(missing_ok=True)
            else:
                _atomic_write(spec_path, old_bytes)
        if isinstance(exc, codegen.CodegenError | OSError):
            raise SpecError(
                f"regeneration failed, {spec_path.name} restored: {_one_line(str(exc))}"
            ) from None
        raise
    if record != previous:
        try:
            provenance_path.parent.mkdir(parents=True, exist_ok=True)
            _atomic_write(provenance_path, record.text().encode("utf-8"))
        except OSError as exc:
            raise SpecError(f"cannot write {provenance_path}: {exc.strerror or exc}") from None
        result.provenance = record
    return result


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """Report a usage problem on one line and exit 2."""
        self.exit(2, f"error: {message} (usage: {self.format_usage().strip()[7:]})\n")


def main(
    argv: list[str] | None = None,
    *,
    spec_path: Path = DEFAULT_SPEC,
    overlay_path: Path = DEFAULT_OVERLAY,
    config_path: Path = DEFAULT_CONFIG,
    output_dir: Path = DEFAULT_OUTPUT,
    regenerate: Regenerate = codegen.generate,
) -> int:
    """Command-line entry point; returns the process exit code."""
    parser = _Parser(prog="update_spec.py", description=__doc__.splitlines()[0])
    parser.add_argument(
        "source",
        nargs="?",
        help="the whole upstream OpenAPI document: a local path or an http(s) URL "
        f"(default: Together's published one, {upstream.UPSTREAM_URL})",
    )
    args = parser.parse_args(argv)
    try:
        result = update_spec(
            args.source,
            spec_path=spec_path,
            overlay_path=overlay_path,
            config_path=config_path,
            output_dir=output_dir,
            regenerate=regenerate,
        )
    except SpecError as exc:
        print(f"error: {_one_line(str(exc), 1000)}", file=sys.stderr)
        return 1
    print("\n".join(result.report()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
