"""Fenced code blocks of Markdown files, as the example runner sees them.

A block is a fence of three or more backticks whose info string names a language and
optional flags: ```` ```python ````, ```` ```bash no-run ````. Only ``python`` and
``bash`` blocks are run; ``no-run`` marks one that must not be (still type-checked or
syntax-checked). ```` ```bash emulator ```` is the page's emulator command: the
``together-queue emulator ...`` line its examples run against, which the runner starts
(once per page, at that point of the page) instead of running it as a script. Aliases
such as ``py`` or ``sh`` are refused, so that no example is skipped by a spelling the
runner does not know.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import attrs

__all__ = [
    "RUN_LANGUAGES",
    "Block",
    "MarkdownBlockError",
    "blocks_of",
    "markdown_files",
    "padded_module",
]

RUN_LANGUAGES = frozenset({"python", "bash"})
"""The languages whose blocks the runner executes (or checks, when marked no-run)."""

# Spellings that look runnable but are not what the conventions name: refused loudly.
_REFUSED = {
    "py": "python",
    "python3": "python",
    "pycon": "python",
    "sh": "bash",
    "shell": "bash",
    "zsh": "bash",
}
_FLAGS = frozenset({"no-run", "emulator"})
_FENCE = re.compile(r"^(?P<indent>[ ]{0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


class MarkdownBlockError(ValueError):
    """A fence the runner cannot classify: unknown language alias, flag, or no closing fence."""


@attrs.frozen
class Block:
    """One fenced block: where it is, its language, whether it runs, and its code."""

    path: Path
    line: int
    """1-based line number of the first line of code (the line after the opening fence)."""
    language: str
    run: bool
    code: str
    emulator: bool = False
    """A ``bash emulator`` block: the page's emulator command (never run as a script)."""

    @property
    def where(self) -> str:
        """``path:line`` of the opening fence, the way editors and tracebacks say it."""
        return f"{self.path}:{self.line - 1}"


def blocks_of(path: Path, text: str | None = None) -> list[Block]:
    """Every ``python`` and ``bash`` block of ``path`` in order (``text`` overrides reading)."""
    lines = (path.read_text(encoding="utf-8") if text is None else text).splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if match is None:
            i += 1
            continue
        fence, indent = match["fence"], len(match["indent"])
        words = match["info"].split()
        end = _closing_fence(lines, i + 1, fence)
        if end is None:
            raise MarkdownBlockError(f"{path}:{i + 1}: code fence {fence} is never closed")
        language = words[0].lower() if words else ""
        flags = set(words[1:])
        if language in _REFUSED:
            raise MarkdownBlockError(
                f"{path}:{i + 1}: write ```{_REFUSED[language]} instead of ```{language}"
                " (the example runner runs only python and bash blocks)"
            )
        if language in RUN_LANGUAGES:
            unknown = flags - _FLAGS
            if unknown:
                raise MarkdownBlockError(
                    f"{path}:{i + 1}: unknown flag(s) {sorted(unknown)} on a {language} block"
                    f" (known: {sorted(_FLAGS)})"
                )
            if "emulator" in flags and (language != "bash" or len(flags) > 1):
                raise MarkdownBlockError(
                    f"{path}:{i + 1}: the emulator command is a ```bash emulator block"
                    " with no other flag"
                )
            code = "\n".join(_dedent(line, indent) for line in lines[i + 1 : end])
            emulator = "emulator" in flags
            run = not flags & {"no-run", "emulator"}
            blocks.append(Block(path, i + 2, language, run, code + "\n", emulator))
        i = end + 1
    return blocks


def _closing_fence(lines: list[str], start: int, fence: str) -> int | None:
    for j in range(start, len(lines)):
        stripped = lines[j].strip()
        if stripped.startswith(fence[0] * len(fence)) and set(stripped) == {fence[0]}:
            return j
    return None


def _dedent(line: str, indent: int) -> str:
    # A fence indented inside a list item: its code is indented the same way.
    return line[indent:] if line[:indent].strip() == "" else line


def padded_module(blocks: Iterable[Block]) -> str:
    """The blocks' code as one module whose line numbers equal the Markdown file's.

    Lines outside the blocks are blank, so an error a tool reports at line N of the
    module is at line N of the Markdown file.
    """
    out: list[str] = []
    for block in blocks:
        code_lines = block.code.splitlines()
        out.extend([""] * (block.line - 1 - len(out)))
        out.extend(code_lines)
    return "\n".join(out) + "\n"


def markdown_files(root: Path) -> Iterator[Path]:
    """README.md and every Markdown file under docs/, relative to ``root``, sorted."""
    if (root / "README.md").is_file():
        yield Path("README.md")
    docs = root / "docs"
    if docs.is_dir():
        yield from sorted(p.relative_to(root) for p in docs.rglob("*.md"))
