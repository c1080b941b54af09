"""Run every example in README.md and docs/, each page against its own emulator command.

A pytest module, run by path (``python tools/run_examples.py`` or ``pytest
tools/run_examples.py``), with one test per Markdown file's examples and one mypy
check per file:

- a page states the emulator its examples run against in a ```` ```bash emulator ````
  block (one ``together-queue emulator ...`` command). The runner starts exactly that
  command (on a free port) when the page reaches it, and exports what a reader would:
  ``TOGETHER_BASE_URL``, the key the command names, ``SSL_CERT_FILE`` for its CA
  (see ``example_emulator``). Before that point, and on a page with no such block,
  ``TOGETHER_BASE_URL`` is a loopback port that refuses connections, so an example
  that needs an emulator fails at once, and ``TOGETHER_API_KEY`` is unset.
- the ``python`` and ``bash`` blocks of a page run in the page's order, in one
  temporary directory (a later block sees the files an earlier one wrote): python
  blocks in one shared namespace, compiled under the Markdown file's name with its own
  line numbers (a traceback says ``README.md, line 42``); bash blocks each with
  ``bash -euo pipefail``, ``together-queue`` on PATH.
- an example that waits for a model the page's emulator does not serve fails as soon
  as the emulator warns about it (after its ten-second grace), naming the model.
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
import signal
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from example_emulator import EmulatorCommandError, PageEmulator, closed_url, executable_path
from markdown_blocks import Block, blocks_of, markdown_files, padded_module

# EXAMPLES_ROOT: another project tree to take README.md and docs/ from (the runner's tests).
ROOT = Path(os.environ.get("EXAMPLES_ROOT") or Path(__file__).resolve().parent.parent).resolve()

_BLOCK_TIMEOUT_SECONDS = 120.0
_FILES = list(markdown_files(ROOT))


def _blocks(rel: Path, language: str | None = None) -> list[Block]:
    return [b for b in blocks_of(ROOT / rel) if language is None or b.language == language]


def _display(block: Block) -> Block:
    # Report paths relative to the project root: `README.md:41`, not an absolute path.
    return Block(
        block.path.relative_to(ROOT),
        block.line,
        block.language,
        block.run,
        block.code,
        block.emulator,
    )


_PAGES = [rel for rel in _FILES if any(b.run or b.emulator for b in _blocks(rel))]
_TYPED_FILES = [rel for rel in _FILES if _blocks(rel, "python")]


class ExampleFailed(Exception):
    """One block of a page failed; the message names the page, the line and why."""


class _UnservedModel(BaseException):
    """Raised in a running python example when the emulator warns of an unserved model.

    A BaseException, so that an example's own `except Exception` does not swallow it.
    """


class _Page:
    """One page's run: its directory, its environment, its emulator once started."""

    def __init__(self, rel: Path, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.rel = rel
        self.cwd = cwd
        self.monkeypatch = monkeypatch
        self.namespace: dict[str, Any] = {"__name__": "__example__"}
        self.emulator: PageEmulator | None = None
        self.unserved = threading.Event()
        self.in_python = False

    def start_emulator(self, block: Block) -> None:
        if self.emulator is not None:
            raise ExampleFailed(f"{block.where}: a page states one emulator command")
        try:
            self.emulator = PageEmulator(block.code, self.cwd, self.bash_env())
        except (EmulatorCommandError, OSError) as exc:
            raise ExampleFailed(f"{block.where}: {exc}") from None
        self.emulator.on_unserved = self._on_unserved
        for name, value in self.emulator.environment().items():
            self.monkeypatch.setenv(name, value)

    def _on_unserved(self, model: str) -> None:
        # The emulator's reader thread: interrupt a python example at once; a bash one
        # is watched by the loop that waits for it.
        self.unserved.set()
        if self.in_python:
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGUSR1)

    def unserved_message(self, block: Block) -> str:
        assert self.emulator is not None
        models = ", ".join(repr(m) for m in dict.fromkeys(self.emulator.unserved))
        return (
            f"{block.where}: the example waits for model {models}, which the page's emulator "
            f"does not serve: `{self.emulator.command}` (state the command the page needs)\n"
            f"--- emulator output\n{self.emulator.tail()}"
        )

    def bash_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PATH"] = executable_path()
        return env

    def hint(self) -> str:
        if self.emulator is None:
            return (
                "\n(this page states no emulator command: TOGETHER_BASE_URL refuses "
                "connections; add a ```bash emulator block with the command its examples need)"
            )
        return f"\n--- emulator output (`{self.emulator.command}`)\n{self.emulator.tail()}"


@contextlib.contextmanager
def _page(rel: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[_Page]:
    """A page's run: cwd a temporary dir, no key, TOGETHER_BASE_URL refusing connections."""
    url, release = closed_url()
    page = _Page(rel, tmp_path, monkeypatch)

    def interrupt(signum: int, frame: FrameType | None) -> None:
        if page.in_python:
            raise _UnservedModel

    previous = signal.signal(signal.SIGUSR1, interrupt)
    try:
        with _logging_restored():
            monkeypatch.setenv("TOGETHER_BASE_URL", url)
            monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
            monkeypatch.delenv("SSL_CERT_FILE", raising=False)
            monkeypatch.chdir(tmp_path)
            yield page
    finally:
        if page.emulator is not None:
            page.emulator.stop()
        page.in_python = False
        signal.signal(signal.SIGUSR1, previous)
        release()


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


@pytest.mark.timeout(900)
@pytest.mark.parametrize("rel", _PAGES, ids=str)
def test_examples(rel: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every block of one page, in the page's order, against the page's emulator command."""
    text = (ROOT / rel).read_text(encoding="utf-8")
    # Tracebacks show the example's own lines: the Markdown file is the "source".
    linecache.cache[str(rel)] = (len(text), None, text.splitlines(True), str(rel))
    work = tmp_path / "page"
    work.mkdir()
    failure = None
    with _page(rel, work, monkeypatch) as page:
        try:
            for block in map(_display, _blocks(rel)):
                if block.emulator:
                    page.start_emulator(block)
                elif block.language == "python" and block.run:
                    _run_python(block, rel, page)
                elif block.language == "bash":
                    _run_bash(block, page, tmp_path)
        except ExampleFailed as exc:
            failure = str(exc)
        if failure is not None and not page.unserved.is_set():
            failure += page.hint()
    if failure is not None:
        # Outside the except block, so pytest shows no chained exception.
        pytest.fail(failure, pytrace=False)


def _run_python(block: Block, rel: Path, page: _Page) -> None:
    """Run one block in the page's namespace; ExampleFailed with its traceback if it raised."""
    # Pad with blank lines so that the code object's line numbers are the file's.
    source = "\n" * (block.line - 1) + block.code
    page.in_python = True
    try:
        if page.unserved.is_set():
            raise _UnservedModel
        exec(compile(source, str(rel), "exec"), page.namespace)  # noqa: S102 (running examples is the job)
    except _UnservedModel:
        page.in_python = False
        raise ExampleFailed(page.unserved_message(block)) from None
    except Exception as exc:
        page.in_python = False
        frames = traceback.format_exception(exc)
        # Drop this runner's own frames: the reader wants the example's lines.
        shown = "".join(f for f in frames if __file__ not in f)
        raise ExampleFailed(f"{block.where}: python example failed\n{shown}") from None
    finally:
        page.in_python = False


def _run_bash(block: Block, page: _Page, scripts: Path) -> None:
    script = scripts / f"block-{block.line}.sh"  # outside the page's dir: examples may list it
    script.write_text(block.code, encoding="utf-8")
    args = ["bash", "-euo", "pipefail", str(script)] if block.run else ["bash", "-n", str(script)]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(
            args,
            cwd=page.cwd,
            env=page.bash_env(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            text=True,
            start_new_session=True,  # its own process group: stopped whole on failure
        )
        try:
            returncode = _wait(process, page, block)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if returncode != 0:
        raise ExampleFailed(
            f"{block.where}: bash example exited {returncode}\n"
            f"--- stdout\n{stdout}--- stderr\n{stderr}"
        )


def _wait(process: subprocess.Popen[str], page: _Page, block: Block) -> int:
    """The exit status of a bash example; ExampleFailed on a timeout or an unserved model."""
    for _ in range(int(_BLOCK_TIMEOUT_SECONDS / 0.1)):
        try:
            return process.wait(0.1)
        except subprocess.TimeoutExpired:
            if page.unserved.is_set():
                raise ExampleFailed(page.unserved_message(block)) from None
    raise ExampleFailed(
        f"{block.where}: bash example still running after {_BLOCK_TIMEOUT_SECONDS:.0f} s"
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
