"""No import circle at run time among the overlay's modules.

Only the imports that run when a module loads count: those at module level (in a
`try` or an `if` too), not those under `if TYPE_CHECKING:` and not those inside a
function, which run on first use. Importing a module runs its packages first, so
`import a.b.c` depends on `a` and `a.b` too; a module's edge to its own package
does not count (the package is always loaded first).
"""

from __future__ import annotations

import ast
from pathlib import Path

import together_queue

PACKAGE = Path(together_queue.__file__).parent
NAME = "together_queue"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _runtime_statements(body: list[ast.stmt]) -> list[ast.stmt]:
    """The statements of `body` that run at import, descending into if/try/with blocks."""
    found: list[ast.stmt] = []
    for node in body:
        if isinstance(node, ast.If):
            if "TYPE_CHECKING" in ast.unparse(node.test):
                found += _runtime_statements(node.orelse)
                continue
            found += _runtime_statements(node.body) + _runtime_statements(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody):
                found += _runtime_statements(block)
            for handler in node.handlers:
                found += _runtime_statements(handler.body)
        elif isinstance(node, ast.With):
            found += _runtime_statements(node.body)
        else:
            found.append(node)
    return found


def _with_parents(module: str) -> set[str]:
    """`module` and every package above it: importing it runs each of them first."""
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)} & MODULES.keys()


def _deferred_statements(body: list[ast.stmt]) -> list[ast.stmt]:
    """Every import statement of `body`, inside functions too (TYPE_CHECKING aside)."""
    found: list[ast.stmt] = []
    for node in _runtime_statements(body):
        found.append(node)
        for inner in ast.walk(node):
            if isinstance(inner, ast.Import | ast.ImportFrom) and inner is not node:
                found.append(inner)
    return found


def _imports(module: str, *, deferred: bool = False) -> set[str]:
    """The overlay modules that loading `module` imports directly (with `deferred`, or later)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    body = ast.parse(path.read_text(encoding="utf-8")).body
    for node in (_deferred_statements if deferred else _runtime_statements)(body):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found |= _with_parents(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found |= _with_parents(base)
            for alias in node.names:
                found |= _with_parents(f"{base}.{alias.name}")
    # A module's own packages are loaded before it, whatever it imports from them.
    return found - _with_parents(module)


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as a path that starts and ends at the same module, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)) is not None:
            return found
    return None


def test_the_walk_sees_the_overlays_modules_and_their_imports() -> None:
    graph = {module: _imports(module) for module in MODULES}

    assert "together_queue.errors" in graph["together_queue._retry"]
    assert "together_queue._async.client" in graph["together_queue.client"]
    assert "together_queue._async._io" in graph["together_queue._async.client"]
    # Under TYPE_CHECKING only: not a runtime import.
    assert "together_queue._calls" not in graph["together_queue._base_client"]


def test_a_cycle_is_found_and_shown() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}

    assert _cycle(graph) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_at_run_time() -> None:
    graph = {module: _imports(module) for module in MODULES}

    cycle = _cycle(graph)

    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_import_inside_a_function_dodges_a_cycle_of_the_client() -> None:
    # The client's modules defer imports only through `_lazy`, which names its modules
    # as strings: an import statement inside one of their functions that closes a
    # circle would be a circle dodged, not a module loaded on first use.
    client = {m for m in MODULES if not m.startswith(("together_queue.cli", "together_queue.emu"))}
    graph = {m: _imports(m, deferred=True) & client for m in client}

    cycle = _cycle(graph)

    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])
