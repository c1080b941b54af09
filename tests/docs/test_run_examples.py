"""The example runner against a small project tree: a broken example fails, naming its line."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

RUNNER = Path(__file__).resolve().parents[2] / "tools" / "run_examples.py"

README = """# demo

```python
from together_queue import QueueClient

client = QueueClient()
print(client.run("my-model", {"x": 1}))
```

```python
client.submit_all("my-model", [{"x": 2}])
```

```bash
together-queue --json submit --model echo --payload '{"y": 2}' --wait > out.json
```

```bash
grep -q '"y": 2' out.json
```

```bash no-run
together-queue emulator
```
"""


def _run(tree: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EXAMPLES_ROOT": str(tree)}
    return subprocess.run(
        [sys.executable, str(RUNNER), "-q", "-p", "no:randomly", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "README.md").write_text(README, encoding="utf-8")
    return tmp_path


def test_a_failing_python_example_names_its_file_and_line(tree: Path) -> None:
    proc = _run(tree, "-k", "test_python_examples and not type_check")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "README.md:10: python example failed" in proc.stdout
    assert 'File "README.md", line 11' in proc.stdout
    assert "AttributeError" in proc.stdout


def test_bash_blocks_share_a_directory_and_no_run_blocks_do_not_run(tree: Path) -> None:
    proc = _run(tree, "-k", "test_bash_examples")
    # The emulator block would serve forever: passing in time proves it was not run.
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("mypy") is None,
    reason="mypy is not installed (requirements/lint.txt; nox -s examples has it)",
)
def test_mypy_reports_an_error_at_the_markdown_line(tree: Path) -> None:
    proc = _run(tree, "-k", "type_check")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert 'README.md:11: error: "QueueClient" has no attribute "submit_all"' in proc.stdout


def test_a_python_no_run_block_is_not_run(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text(
        "```python no-run\nraise RuntimeError('ran')\n```\n\n```python\nx = 1\n```\n",
        encoding="utf-8",
    )
    proc = _run(tmp_path, "-k", "test_python_examples and not type_check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout
