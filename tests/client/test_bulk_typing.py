"""The guide's typed-outcomes snippet passes `mypy --strict`: `if o.ok:` narrows an Outcome.

(It was the README's "Many jobs" snippet; the README is now a front page and the snippet
lives in docs/guides/many-jobs.md, "Outcomes are typed".)
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# What the snippet assumes exists (the guide imports it in an earlier block).
PRELUDE = """\
from together_queue import QueueClient
"""


def _many_jobs_snippet() -> str:
    guide = (ROOT / "docs/guides/many-jobs.md").read_text(encoding="utf-8")
    section = guide.split("### Outcomes are typed", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None, "the guide's 'Outcomes are typed' section has no python block"
    return match.group(1)


def test_the_many_jobs_snippet_type_checks_strictly(tmp_path: Path) -> None:
    # Issue 16 item 20: before Outcome became Success | Failure, this gave 3 errors.
    api = pytest.importorskip("mypy.api")
    script = tmp_path / "many_jobs.py"
    script.write_text(PRELUDE + _many_jobs_snippet(), encoding="utf-8")
    stdout, stderr, status = api.run(
        ["--strict", "--cache-dir", str(ROOT / ".mypy_cache"), str(script)]
    )
    assert status == 0, stdout + stderr
