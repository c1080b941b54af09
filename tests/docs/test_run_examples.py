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

```bash emulator
together-queue emulator --model my-model=echo --model echo=echo
```

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

# A page in document order: the broken python block is last, so the bash ones ran first.
ORDERED = (
    README.replace(
        """```python
client.submit_all("my-model", [{"x": 2}])
```

""",
        "",
    )
    + """
```python
client.submit_all("my-model", [{"x": 2}])
```
"""
)


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
    proc = _run(tree, "-k", "test_examples")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "README.md:14: python example failed" in proc.stdout
    assert 'File "README.md", line 15' in proc.stdout
    assert "AttributeError" in proc.stdout


def test_blocks_run_in_page_order_in_one_directory_and_no_run_blocks_do_not_run(
    tmp_path: Path,
) -> None:
    (tmp_path / "README.md").write_text(ORDERED, encoding="utf-8")
    proc = _run(tmp_path, "-k", "test_examples")
    # The bash blocks passed (the grep saw the first one's file) before the python error;
    # the no-run emulator block would serve forever: finishing proves it was not run.
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "AttributeError" in proc.stdout
    assert "bash example exited" not in proc.stdout


def _guide(tmp_path: Path, text: str) -> Path:
    (tmp_path / "docs" / "guides").mkdir(parents=True)
    (tmp_path / "docs" / "guides" / "page.md").write_text(text, encoding="utf-8")
    return tmp_path


def test_a_guide_that_needs_a_model_its_emulator_does_not_serve_fails_naming_it(
    tmp_path: Path,
) -> None:
    tree = _guide(
        tmp_path,
        "```bash emulator\ntogether-queue emulator --model echo=echo\n```\n\n"
        "```python\nfrom together_queue import QueueClient\n\n"
        "with QueueClient() as client:\n"
        "    print(client.submit('sleep', {}).wait(timeout=600))\n```\n",
    )

    proc = _run(tree, "-k", "test_examples")

    # Failed on the emulator's warning (after its ten seconds), not the 600 s wait.
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "docs/guides/page.md:5: the example waits for model 'sleep'" in proc.stdout
    assert "`together-queue emulator --model echo=echo`" in proc.stdout


def test_the_page_runs_against_exactly_its_command_key_included(tmp_path: Path) -> None:
    # A keyed emulator: a call without the key is refused (401), with it accepted.
    tree = _guide(
        tmp_path,
        "```bash\necho dev-key-123 > keys.txt\n```\n\n"
        "```bash emulator\ntogether-queue emulator --api-key-file keys.txt \\\n"
        "    --model echo=echo\n```\n\n"
        "```python\nimport os\n\nimport httpx\n\n"
        "url = os.environ['TOGETHER_BASE_URL'] + '/v1/queue/metrics'\n"
        "assert httpx.get(url, params={'model': 'echo'}).status_code == 401\n"
        "key = {'Authorization': f\"Bearer {os.environ['TOGETHER_API_KEY']}\"}\n"
        "assert os.environ['TOGETHER_API_KEY'] == 'dev-key-123'\n"
        "assert httpx.get(url, params={'model': 'echo'}, headers=key).status_code == 200\n"
        "```\n",
    )

    proc = _run(tree, "-k", "test_examples")

    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_page_without_an_emulator_command_has_no_service(tmp_path: Path) -> None:
    tree = _guide(
        tmp_path,
        "```python\nfrom together_queue import QueueClient\n\n"
        "QueueClient(max_retries=0).metrics('echo')\n```\n",
    )

    proc = _run(tree, "-k", "test_examples")

    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "APIConnectionError" in proc.stdout
    assert "this page states no emulator command" in proc.stdout


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("mypy") is None,
    reason="mypy is not installed (requirements/lint.txt; nox -s examples has it)",
)
def test_mypy_reports_an_error_at_the_markdown_line(tree: Path) -> None:
    proc = _run(tree, "-k", "type_check")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert 'README.md:15: error: "QueueClient" has no attribute "submit_all"' in proc.stdout


def test_a_python_no_run_block_is_not_run(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text(
        "```python no-run\nraise RuntimeError('ran')\n```\n\n```python\nx = 1\n```\n",
        encoding="utf-8",
    )
    proc = _run(tmp_path, "-k", "test_examples")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout
