"""An external worker process serves a model end to end through the worker protocol."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .conftest import Api, Factory
from .helpers import claims, submit, wait_status

WORKER = Path(__file__).with_name("external_worker.py")


def test_external_worker_process_serves_a_model(queue_emulator_factory: Factory, api: Api) -> None:
    emulator = queue_emulator_factory()  # "ext" has no in-process handler
    client = api(emulator)
    texts = ["alpha", "beta", "gamma", "delta"]
    worker = subprocess.Popen(
        [sys.executable, str(WORKER), emulator.url, "ext", str(len(texts))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        ids = [submit(client, "ext", {"text": text}) for text in texts]
        results = [wait_status(client, "ext", rid, {"done"}, timeout=30) for rid in ids]
        assert worker.wait(30) == 0, worker.stderr.read() if worker.stderr else ""
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
    for text, result in zip(texts, results, strict=True):
        assert result["outputs"]["text"] == text.upper()
        assert result["outputs"]["pid"] == worker.pid != os.getpid()
        assert result["info"] == {"progress": 1.0, "pid": worker.pid}
    assert {c["hostname"] for c in claims(client, "ext")} == {f"external-{worker.pid}"}
