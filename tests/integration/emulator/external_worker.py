"""A worker in its own OS process that speaks only the worker protocol over HTTP.

Usage: python external_worker.py URL MODEL JOBS
Serves JOBS jobs of MODEL (uppercases payload["text"], reporting progress), then exits 0.
Gives up with exit status 3 after 30 s without finishing.
"""

from __future__ import annotations

import os
import sys
import time

import httpx


def serve(url: str, model: str, jobs: int) -> int:
    deadline = time.monotonic() + 30
    served = 0
    hostname = f"external-{os.getpid()}"
    with httpx.Client(base_url=url, timeout=10) as client:
        while served < jobs:
            if time.monotonic() > deadline:
                return 3
            response = client.get(
                "/internal/v1/rabbitmq/retrieve",
                params={"model": model, "timeout": "1s", "hostname": hostname},
            )
            response.raise_for_status()
            job = response.json()["data"]
            if job is None:
                continue
            base = {"model": model, "request_id": job["request_id"]}
            running = {**base, "status": "running", "info": {"progress": 0.5, "pid": os.getpid()}}
            client.post("/internal/v1/videos/status", json=running).raise_for_status()
            outputs = {"text": str(job["payload"]["text"]).upper(), "pid": os.getpid()}
            done = {**base, "status": "done", "payload": outputs, "info": {"progress": 1.0}}
            client.post("/internal/v1/videos/status", json=done).raise_for_status()
            served += 1
    return 0


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1], sys.argv[2], int(sys.argv[3])))
