"""Tests for tools/markdown_blocks.py: which fenced blocks the example runner sees, and where."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

from markdown_blocks import (  # noqa: E402
    MarkdownBlockError,
    blocks_of,
    markdown_files,
    padded_module,
)

DOC = """# Title

```python
x = 1
```

```bash no-run
together-queue emulator
```

```text
not code
```

- a list item:

  ```python
  y = x + 1
  ```

````python
print("```")
````
"""


def test_blocks_have_language_run_flag_and_line_of_first_code_line() -> None:
    blocks = blocks_of(Path("doc.md"), DOC)
    assert [(b.language, b.run, b.line) for b in blocks] == [
        ("python", True, 4),
        ("bash", False, 8),
        ("python", True, 18),
        ("python", True, 22),
    ]
    assert blocks[0].where == "doc.md:3"  # the opening fence, as editors count lines


def test_indented_block_is_dedented_and_longer_fence_holds_backticks() -> None:
    blocks = blocks_of(Path("doc.md"), DOC)
    assert blocks[2].code == "y = x + 1\n"
    assert blocks[3].code == 'print("```")\n'


def test_padded_module_keeps_markdown_line_numbers() -> None:
    python = [b for b in blocks_of(Path("doc.md"), DOC) if b.language == "python"]
    lines = padded_module(python).splitlines()
    assert lines[3] == "x = 1"
    assert lines[17] == "y = x + 1"
    assert lines[21] == 'print("```")'
    assert all(not line for i, line in enumerate(lines) if i not in (3, 17, 21))


@pytest.mark.parametrize(
    ("fence", "message"),
    [
        ("```py\nx\n```\n", "write ```python instead of ```py"),
        ("```sh\nls\n```\n", "write ```bash instead of ```sh"),
        ("```python norun\nx\n```\n", "unknown flag(s) ['norun']"),
        ("```python\nx = 1\n", "never closed"),
        ("```python emulator\nx\n```\n", "```bash emulator block with no other flag"),
        ("```bash emulator no-run\nx\n```\n", "```bash emulator block with no other flag"),
    ],
)
def test_fences_the_runner_would_skip_silently_are_errors(fence: str, message: str) -> None:
    with pytest.raises(MarkdownBlockError, match=r"^doc\.md:1: ") as info:
        blocks_of(Path("doc.md"), fence)
    assert message in str(info.value)


def test_an_emulator_block_is_the_pages_command_not_a_script() -> None:
    (block,) = blocks_of(Path("doc.md"), "```bash emulator\ntogether-queue emulator\n```\n")
    assert (block.language, block.run, block.emulator) == ("bash", False, True)
    assert block.code == "together-queue emulator\n"


def test_markdown_files_are_readme_and_docs(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# r\n")
    (tmp_path / "docs" / "guides").mkdir(parents=True)
    (tmp_path / "docs" / "guides" / "b.md").write_text("# b\n")
    (tmp_path / "docs" / "a.md").write_text("# a\n")
    (tmp_path / "other.md").write_text("# not an example source\n")
    assert list(markdown_files(tmp_path)) == [
        Path("README.md"),
        Path("docs/a.md"),
        Path("docs/guides/b.md"),
    ]
