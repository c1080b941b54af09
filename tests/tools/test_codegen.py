"""Tests for tools/codegen.py with the real, pinned generator: reproducible and drift-checked."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import codegen  # noqa: E402

pytestmark = pytest.mark.skipif(
    shutil.which("openapi-python-client") is None,
    reason="openapi-python-client is not installed (requirements/codegen.txt)",
)


def _tree_bytes(tree: Path) -> dict[str, bytes]:
    return {
        p.relative_to(tree).as_posix(): p.read_bytes()
        for p in sorted(tree.rglob("*"))
        if p.is_file()
    }


def test_generating_twice_gives_identical_bytes(tmp_path: Path) -> None:
    output = tmp_path / "generated" / codegen.PACKAGE

    assert codegen.generate(codegen.DEFAULT_SPEC, codegen.DEFAULT_CONFIG, output) is True
    first = _tree_bytes(output)
    assert codegen.generate(codegen.DEFAULT_SPEC, codegen.DEFAULT_CONFIG, output) is False

    assert _tree_bytes(output) == first
    assert "py.typed" in first
    assert "api/queue/submit_queue_job.py" in first
    assert not any("__pycache__" in name or ".ruff_cache" in name for name in first)
    # Nothing but the package is left next to it (no staging or backup directories).
    assert [p.name for p in output.parent.iterdir()] == [codegen.PACKAGE]


def test_committed_generated_package_is_in_sync(capsys: pytest.CaptureFixture[str]) -> None:
    assert codegen.main(["check"]) == 0
    assert "in sync" in capsys.readouterr().out


def test_check_reports_a_changed_description_with_the_file_it_touches(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "openapi.yaml"
    original = "description: Machine-readable error code"
    text = codegen.DEFAULT_SPEC.read_text()
    assert text.count(original) == 1
    spec.write_text(text.replace(original, "description: A machine-readable error code"))

    assert codegen.main(["check", "--spec", str(spec)]) == 1

    captured = capsys.readouterr()
    assert "--- committed/models/queue_error.py" in captured.out
    assert "+++ regenerated/models/queue_error.py" in captured.out
    assert '+    """ A machine-readable error code """' in captured.out
    assert "out of date" in captured.err
