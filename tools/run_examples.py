"""Run every example in README.md and docs/ against a fresh emulator (`nox -s examples`).

A pytest module, run by path (``python tools/run_examples.py`` or ``pytest
tools/run_examples.py``), with one test per Markdown file's Python blocks, one per
file's bash blocks, and one mypy check per file:

- ``python`` blocks of a file run in order in one shared namespace, in a temporary
  directory, with ``TOGETHER_BASE_URL`` pointing at a fresh emulator on loopback (no
  auth; models ``my-model`` (echo), ``echo``, ``sleep``, ``fail``) and
  ``TOGETHER_API_KEY`` unset. Code is compiled under the Markdown file's name with
  its own line numbers, so a traceback says ``README.md, line 42``.
- ``bash`` blocks of a file run in order, each with ``bash -euo pipefail``, in one
  temporary directory (so a later block sees the files an earlier one wrote), same
  environment and a fresh emulator, ``together-queue`` on PATH.
- every file's python blocks, ``no-run`` ones included, are type-checked together by
  mypy (one module per file, lines aligned with the Markdown); ``bash no-run`` blocks
  are syntax-checked with ``bash -n``.
"""

from __future__ import annotations

import contextlib
import linecache
import logging
import os
import re
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from markdown_blocks import Block, blocks_of, markdown_files, padded_module

# EXAMPLES_ROOT: another project tree to take README.md and docs/ from (the runner's tests).
ROOT = Path(os.environ.get("EXAMPLES_ROOT") or Path(__file__).resolve().parent.parent).resolve()
EXAMPLE_MODELS = {"my-model": "echo", "echo": "echo", "sleep": "sleep", "fail": "fail"}
"""The in-process models every example can use."""

_BLOCK_TIMEOUT_SECONDS = 120.0
_FILES = list(markdown_files(ROOT))


def _blocks(rel: Path, language: str) -> list[Block]:
    return [b for b in blocks_of(ROOT / rel) if b.language == language]


def _display(block: Block) -> Block:
    # Report paths relative to the project root: `README.md:41`, not an absolute path.
    return Block(block.path.relative_to(ROOT), block.line, block.language, block.run, block.code)


_PYTHON_FILES = [rel for rel in _FILES if any(b.run for b in _blocks(rel, "python"))]
_TYPED_FILES = [rel for rel in _FILES if _blocks(rel, "python")]
_BASH_FILES = [rel for rel in _FILES if _blocks(rel, "bash")]


@contextlib.contextmanager
def _emulator() -> Iterator[str]:
    from together_queue.emulator import start_emulator

    with start_emulator(models=EXAMPLE_MODELS, claim_timeout=2.0) as handle:
        yield handle.url


@pytest.fixture
def example_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """A fresh emulator, its URL in TOGETHER_BASE_URL, no API key, cwd a temporary dir."""
    with _emulator() as url, _logging_restored():
        monkeypatch.setenv("TOGETHER_BASE_URL", url)
        monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
        monkeypatch.chdir(tmp_path)
        yield url


@contextlib.contextmanager
def _logging_restored() -> Iterator[None]:
    # An example may call logging.basicConfig(...): keep it from changing later files' runs.
    root, ours = logging.getLogger(), logging.getLogger("together_queue")
    handlers, levels = root.handlers[:], (root.level, ours.level)
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(levels[0])
        ours.setLevel(levels[1])


@pytest.mark.timeout(600)
@pytest.mark.parametrize("rel", _PYTHON_FILES, ids=str)
def test_python_examples(rel: Path, example_env: str) -> None:
    """Every runnable python block of one file, in order, in one namespace."""
    namespace: dict[str, Any] = {"__name__": "__example__"}
    text = (ROOT / rel).read_text(encoding="utf-8")
    # Tracebacks show the example's own lines: the Markdown file is the "source".
    linecache.cache[str(rel)] = (len(text), None, text.splitlines(True), str(rel))
    for block in _blocks(rel, "python"):
        if not block.run:
            continue
        failure = _run_python(block, rel, namespace)
        if failure is not None:
            # Outside the except block, so pytest shows no chained exception.
            pytest.fail(f"{rel}:{block.line - 1}: python example failed\n{failure}", pytrace=False)


def _run_python(block: Block, rel: Path, namespace: dict[str, Any]) -> str | None:
    """Run one block; return its traceback (the example's frames) if it raised."""
    # Pad with blank lines so that the code object's line numbers are the file's.
    source = "\n" * (block.line - 1) + block.code
    try:
        exec(compile(source, str(rel), "exec"), namespace)  # noqa: S102 (running examples is the job)
    except Exception as exc:
        frames = traceback.format_exception(exc)
        # Drop this runner's own frame: the reader wants the example's lines.
        return "".join(f for f in frames if __file__ not in f)
    return None


@pytest.mark.timeout(600)
@pytest.mark.parametrize("rel", _BASH_FILES, ids=str)
def test_bash_examples(rel: Path, example_env: str, tmp_path: Path) -> None:
    """Every bash block of one file, in order, in one directory (``bash -n`` if no-run)."""
    env = dict(os.environ)
    # The venv's scripts first, so `together-queue` is this checkout's.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    for block in map(_display, _blocks(rel, "bash")):
        _run_bash(block, env, tmp_path)


def _run_bash(block: Block, env: dict[str, str], cwd: Path) -> None:
    script = cwd.parent / f"block-{block.line}.sh"  # outside cwd: examples may list it
    script.write_text(block.code, encoding="utf-8")
    args = ["bash", "-euo", "pipefail", str(script)] if block.run else ["bash", "-n", str(script)]
    try:
        proc = subprocess.run(
            args,
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=_BLOCK_TIMEOUT_SECONDS,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(
            f"{block.where}: bash example still running after {_BLOCK_TIMEOUT_SECONDS:.0f} s",
            pytrace=False,
        )
    if proc.returncode != 0:
        pytest.fail(
            f"{block.where}: bash example exited {proc.returncode}\n"
            f"--- stdout\n{proc.stdout}--- stderr\n{proc.stderr}",
            pytrace=False,
        )


def _module_name(rel: Path) -> str:
    return re.sub(r"\W", "_", rel.as_posix()) + ".py"


@pytest.fixture(scope="module")
def mypy_report() -> dict[str, list[str]]:
    """Run mypy over every file's python blocks at once: errors by Markdown path."""
    with tempfile.TemporaryDirectory(prefix="examples-mypy-") as tmp:
        out_dir = Path(tmp)
        names: dict[str, Path] = {}
        for rel in _TYPED_FILES:
            name = _module_name(rel)
            (out_dir / name).write_text(padded_module(_blocks(rel, "python")), encoding="utf-8")
            names[name] = rel
        config = out_dir / "mypy.ini"
        # Not the project's --strict: examples are short scripts, often unannotated,
        # but their calls and attributes must still type-check. An unused `type: ignore`
        # is not an error: a page may silence what only some mypy settings report.
        config.write_text(
            "[mypy]\ncheck_untyped_defs = True\nno_implicit_optional = True\n"
            "ignore_missing_imports = False\n",
            encoding="utf-8",
        )
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "mypy",
                "--config-file",
                str(config),
                "--no-error-summary",
                "--show-error-codes",
                "--cache-dir",
                str(out_dir / ".mypy_cache"),
                *sorted(names),
            ],
            cwd=out_dir,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode not in (0, 1):
            pytest.fail(f"mypy could not run:\n{proc.stdout}{proc.stderr}", pytrace=False)
        report: dict[str, list[str]] = {str(rel): [] for rel in names.values()}
        for line in proc.stdout.splitlines():
            name, _, rest = line.partition(":")
            if name in names:
                report[str(names[name])].append(f"{names[name]}:{rest}")
        return report


@pytest.mark.timeout(600)
@pytest.mark.parametrize("rel", _TYPED_FILES, ids=str)
def test_python_examples_type_check(rel: Path, mypy_report: dict[str, list[str]]) -> None:
    """Mypy finds no error in a file's python blocks, the no-run ones included."""
    errors = [e for e in mypy_report[str(rel)] if ": error:" in e]
    if errors:
        pytest.fail("\n".join(mypy_report[str(rel)]), pytrace=False)


def main() -> int:
    """Run this module with pytest; arguments go to pytest."""
    return pytest.main([__file__, "-p", "no:cacheprovider", *sys.argv[1:]])


if __name__ == "__main__":
    raise SystemExit(main())
