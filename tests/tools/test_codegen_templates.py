"""The project's generator templates (templates/) are generic: a new operation needs no edit.

Generates from openapi.yaml plus an invented `clear` operation (the kind of change the
spec is going through) and checks the fresh package is lazy and complete for it too.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import codegen  # noqa: E402

pytestmark = pytest.mark.skipif(
    shutil.which("openapi-python-client") is None,
    reason="openapi-python-client is not installed (requirements/codegen.txt)",
)
_DEADLINE = 60


def _json_body(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


def _spec_with_a_clear_operation() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load(codegen.DEFAULT_SPEC.read_text())
    spec["paths"]["/queue/clear"] = {
        "post": {
            "operationId": "clearQueue",
            "tags": ["Queue"],
            "requestBody": {
                "required": True,
                "content": _json_body("QueueClearRequest"),
            },
            "responses": {
                "200": {"description": "Cleared", "content": _json_body("QueueClearResponse")}
            },
        }
    }
    schemas = spec["components"]["schemas"]
    schemas["QueueClearRequest"] = {
        "type": "object",
        "required": ["model"],
        "properties": {"model": {"type": "string"}},
    }
    schemas["QueueClearResponse"] = {
        "type": "object",
        "required": ["cleared"],
        "properties": {"cleared": {"type": "integer"}},
    }
    return spec


@pytest.mark.slow
def test_a_new_operation_gets_a_lazy_model_export_with_no_template_change(
    tmp_path: Path,
) -> None:
    spec = tmp_path / "openapi.yaml"
    spec.write_text(yaml.safe_dump(_spec_with_a_clear_operation(), sort_keys=False))
    out = tmp_path / "gen" / codegen.PACKAGE
    codegen.generate(spec, codegen.DEFAULT_CONFIG, out)
    assert (out / "api" / "queue" / "clear_queue.py").is_file()

    script = (
        "import json, sys\n"
        "import together_queue_api.models as models\n"
        "before = sorted(m for m in sys.modules if m.startswith('together_queue_api'))\n"
        "cls = models.QueueClearResponse\n"
        "print(json.dumps({'before': before, 'all': list(models.__all__),\n"
        "                  'dir': dir(models), 'file': models.__file__,\n"
        "                  'parsed': cls.from_dict({'cleared': 3}).cleared}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={"PYTHONPATH": str(out.parent), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=_DEADLINE,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)

    assert seen["file"] == str(out / "models" / "__init__.py")
    assert seen["before"] == ["together_queue_api", "together_queue_api.models"]
    assert {"QueueClearRequest", "QueueClearResponse"} <= set(seen["all"])
    assert set(seen["all"]) <= set(seen["dir"])
    assert seen["parsed"] == 3
