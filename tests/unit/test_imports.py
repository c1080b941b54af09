"""Imports load only what is used: lazy public names, lazy generated models, a light CLI.

Each check that looks at `sys.modules` runs in a fresh interpreter, since this test
process has long since imported everything.
"""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import together_queue
import together_queue_api
import together_queue_api.models

_DEADLINE = 60


def _modules_after(code: str) -> set[str]:
    """The names in `sys.modules` after `code` runs in a fresh interpreter."""
    script = (
        "import sys, json\n"
        f"{code}\n"
        "sys.stderr.write('\\nMODULES=' + json.dumps(sorted(sys.modules)) + '\\n')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=_DEADLINE,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    marker = proc.stderr.rsplit("MODULES=", 1)[1]
    loaded: list[str] = json.loads(marker)
    return set(loaded)


def _under(modules: set[str], *packages: str) -> set[str]:
    return {m for m in modules if any(m == p or m.startswith(p + ".") for p in packages)}


def _type_checking_imports(path: Path) -> dict[str, str]:
    """name -> module for every `from module import name` under `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text())
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom), ast.unparse(stmt)
                module = "." * stmt.level + (stmt.module or "")
                for alias in stmt.names:
                    found[alias.asname or alias.name] = module
    return found


# -- together_queue: lazy public names ---------------------------------------------


def test_import_together_queue_loads_no_client_httpx_attrs_or_generated_module() -> None:
    loaded = _modules_after("import together_queue")

    assert _under(loaded, "together_queue") == {"together_queue", "together_queue._version"}
    assert not _under(loaded, "together_queue_api", "httpx", "attr", "attrs")


def test_importing_queue_client_loads_no_endpoint_model_or_bulk_module() -> None:
    loaded = _modules_after("from together_queue import QueueClient")

    assert "together_queue.client" in loaded
    # No generated module at all, and no attrs (about a fifth of `import httpx` on its
    # own): the generated layer and the attrs value classes load with the first call.
    assert _under(loaded, "together_queue_api") == set()
    assert _under(loaded, "attr") == _under(loaded, "attrs") == set()
    for lazy in ("_bulk", "_calls", "_models", "_polling", "jobs", "_download"):
        assert f"together_queue.{lazy}" not in loaded, lazy


def test_generated_modules_load_when_a_call_is_built() -> None:
    loaded = _modules_after(
        "from together_queue import _calls\n"
        "_calls.status_call('r-1', 'm')\n"
        "assert 'together_queue_api.api.queue.submit_queue_job' not in sys.modules"
    )

    assert "together_queue_api.api.queue.get_queue_job_status" in loaded
    assert "together_queue_api.models.queue_job_status_response" in loaded


def test_init_exports_match_its_type_checking_imports_and_all() -> None:
    path = Path(together_queue.__file__)
    seen_by_type_checkers = _type_checking_imports(path)
    exports: dict[str, str] = together_queue._EXPORTS

    assert seen_by_type_checkers == exports
    assert set(together_queue.__all__) == {*exports, "__version__"}
    assert len(together_queue.__all__) == len(set(together_queue.__all__))


@pytest.mark.parametrize("name", together_queue.__all__)
def test_every_public_name_resolves_to_the_defining_modules_object(name: str) -> None:
    value = getattr(together_queue, name)

    exports: dict[str, str] = together_queue._EXPORTS
    if name in exports:
        assert value is getattr(importlib.import_module(exports[name]), name)
    assert name in dir(together_queue)


def test_dir_lists_public_names_before_they_are_loaded() -> None:
    loaded = _modules_after(
        "import together_queue\n"
        "missing = set(together_queue.__all__) - set(dir(together_queue))\n"
        "assert not missing, missing"
    )

    assert "together_queue.client" not in loaded


def test_star_import_binds_every_public_name() -> None:
    _modules_after(
        "import together_queue\n"
        "namespace = {}\n"
        "exec('from together_queue import *', namespace)\n"
        "missing = set(together_queue.__all__) - set(namespace)\n"
        "assert not missing, missing\n"
        "assert namespace['QueueClient'].__name__ == 'QueueClient'"
    )


def test_an_unknown_name_is_an_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'QueueClinet'"):
        _ = together_queue.QueueClinet  # type: ignore[attr-defined]
    assert not hasattr(together_queue, "_calls_not_a_module")


# -- the CLI: --help and --version load no client -----------------------------------


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_cli_help_and_version_load_no_client_generated_or_emulator_module(flag: str) -> None:
    loaded = _modules_after(
        "from together_queue.cli import main\n"
        "try:\n"
        f"    main([{flag!r}])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code in (0, None), exc.code\n"
        "else:\n"
        "    raise AssertionError('argparse did not exit')"
    )
    client = _modules_after("from together_queue import QueueClient")
    # What the client brings beyond the bare package: its own modules, httpx and attrs.
    clientside = _under(client, "together_queue", "httpx", "attr", "attrs") - _modules_after(
        "import together_queue"
    )

    assert "together_queue.client" in clientside
    assert not loaded & clientside
    assert not _under(loaded, "together_queue_api", "together_queue.emulator")


# -- together_queue_api: the generated package, from templates/ ----------------------


def test_generated_models_package_loads_no_model_until_one_is_used() -> None:
    loaded = _modules_after(
        "import together_queue_api.models as models\n"
        "assert set(models.__all__) <= set(dir(models))\n"
        "assert 'together_queue_api.models.queue_error' not in sys.modules\n"
        "models.QueueError"
    )

    assert _under(loaded, "together_queue_api") == {
        "together_queue_api",
        "together_queue_api.models",
        "together_queue_api.models.queue_error",
        "together_queue_api.types",  # QueueError's own import: UNSET
    }


def test_generated_models_type_checking_imports_match_the_lazy_map() -> None:
    path = Path(together_queue_api.models.__file__)
    modules: dict[str, str] = together_queue_api.models._MODULES

    assert _type_checking_imports(path) == modules
    assert set(together_queue_api.models.__all__) == set(modules)
    for name, module in modules.items():
        defining = importlib.import_module(module, "together_queue_api.models")
        assert getattr(together_queue_api.models, name) is getattr(defining, name)


def test_generated_package_resolves_its_clients_lazily() -> None:
    loaded = _modules_after(
        "import together_queue_api\n"
        "assert 'together_queue_api.client' not in sys.modules\n"
        "assert together_queue_api.Client.__name__ == 'Client'"
    )

    assert "together_queue_api.client" in loaded
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        _ = together_queue_api.Nope  # type: ignore[attr-defined]
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        _ = together_queue_api.models.Nope  # type: ignore[attr-defined]


def test_the_lazy_modules_map_matches_what_type_checkers_see() -> None:
    from together_queue import _lazy

    tree = ast.parse(Path(_lazy.__file__).read_text())
    block = next(
        n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING"
    )
    assigned = {
        stmt.targets[0].id
        for stmt in block.body
        if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name)
    }
    modules: dict[str, str] = _lazy._MODULES

    assert assigned == set(modules)
    for name, module in modules.items():
        assert getattr(_lazy, name) is importlib.import_module(module)
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        _ = _lazy.nope  # type: ignore[attr-defined]


def test_importing_queue_client_loads_no_asyncio() -> None:
    loaded = _modules_after("from together_queue import QueueClient, AsyncQueueClient")

    assert _under(loaded, "asyncio") == set()
    assert "together_queue._async.client" in loaded
