"""A worker that speaks the protocol of Together's worker SDK, sprocket 0.1.4, step by step.

The SDK is not on PyPI, so the tests cannot run it. This stand-in makes the same HTTP
calls with the same paths, query parameters, headers and bodies, and treats the answers
the same way (written from reading the SDK's source, not copied). Each step names the
sprocket function it mirrors. What it adds for tests: a heartbeat interval and claim
timeout the test chooses (the SDK hard-codes 45 s and 90 s), a bounded run, and a log of
every call that failed.
"""

from __future__ import annotations

import asyncio
import inspect
import random
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path, PosixPath
from typing import Any

import attrs
import httpx

RETRIEVE_PATH = "/internal/v1/queue/retrieve"
OLD_RETRIEVE_PATH = "/internal/v1/rabbitmq/retrieve"
UPDATE_PATH = "/internal/v1/videos/status"
UPLOAD_PATH = "/v1/storage/upload-request"

Predict = Callable[[dict[str, Any]], "dict[str, Any] | Awaitable[dict[str, Any]]"]


class FileOutput(PosixPath):
    """An output value that is a file to upload (sprocket's ``FileOutput``)."""


@attrs.define
class SprocketLikeWorker:
    """One worker for one model, as ``sprocket.Runner`` + ``sprocket.QueueClient`` behave.

    ``base`` is what ``TOGETHER_API_BASE_URL`` holds (the SDK prefixes ``https://`` when
    it is missing). ``claim_timeout`` None is a sync ``Sprocket`` (no claim timeout, no
    heartbeat); a number is an ``AsyncSprocket`` (the SDK: 90, heartbeat every 45 s).
    TLS trust comes from the environment (``SSL_CERT_FILE``), as in the SDK.
    """

    base: str
    model: str
    api_key: str
    predict: Predict
    claim_timeout: int | None = None
    heartbeat: float | None = None
    version: str = "1.2.3"
    hostname: str = "sprocket-test-host"
    retrieve_path: str = RETRIEVE_PATH
    failures: list[str] = attrs.field(factory=list)
    done: int = 0

    @property
    def api_base(self) -> str:
        # sprocket: API_BASE, always https
        return self.base if self.base.startswith("https://") else f"https://{self.base}"

    def _client(self) -> httpx.AsyncClient:
        # sprocket QueueClient.__init__: JSON content type and the key as default headers,
        # x-worker-version from the VERSION file, no timeout, a User-Agent naming the SDK
        # and the model; the environment decides TLS trust (SSL_CERT_FILE) as in httpx.
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.api_key}"}
        if self.version:
            headers["x-worker-version"] = self.version
        client = httpx.AsyncClient(headers=headers, timeout=None)
        client.headers["User-Agent"] += f" sprocket/0.1.4 {self.model}/{self.version or 'unknown'}"
        return client

    async def get_job(self, client: httpx.AsyncClient, stop: threading.Event) -> dict[str, Any]:
        """Mirror ``QueueClient.get_job``: long-poll until a job arrives."""
        params: dict[str, Any] = {"timeout": "5s", "model": self.model, "hostname": self.hostname}
        if self.claim_timeout:
            params["claim_timeout"] = self.claim_timeout
        start = time.time()
        while not stop.is_set():
            try:
                headers = {"x-idle-time": str(time.time() - start)}
                response = await client.get(
                    self.api_base + self.retrieve_path, headers=headers, params=params
                )
                response.raise_for_status()
                body = response.json()
                if body.get("data"):
                    data: dict[str, Any] = body["data"]
                    return data
            except httpx.HTTPError as exc:
                self.failures.append(f"retrieve: {exc!r}")
            await asyncio.sleep(random.random() / 5)
        raise asyncio.CancelledError

    async def update_job_status(
        self,
        client: httpx.AsyncClient,
        request_id: str,
        status: str,
        outputs: dict[str, Any] | None = None,
        info: dict[str, Any] | None = None,
    ) -> bool:
        """Mirror ``QueueClient.update_job_status``: 3 tries, only HTTP 200 counts."""
        data: dict[str, Any] = {
            "model": self.model,
            "request_id": request_id,
            "status": status,
            "payload": outputs or {},
        }
        if info:
            data["info"] = info
        for _ in range(3):
            try:
                response = await client.post(self.api_base + UPDATE_PATH, json=data)
                if response.status_code == 200:
                    return True
                response.raise_for_status()
                self.failures.append(f"update {status}: HTTP {response.status_code}")
            except httpx.HTTPError as exc:
                self.failures.append(f"update {status}: {exc!r}")
        return False

    async def upload_file(self, client: httpx.AsyncClient, request_id: str, path: Path) -> str:
        """Mirror ``QueueClient.upload_file``: ask for a URL, PUT the bytes, name the file.

        The PUT goes through the same client, so it carries the SDK's default headers
        (the key, a JSON content type); the SDK does not check its answer.
        """
        request = {"filename": request_id + "-" + path.name}
        response = await client.post(self.api_base + UPLOAD_PATH, json=request)
        url = response.json()["upload_url"]["url"]
        # The SDK reads the file in the event loop too; test files are tiny.
        put = await client.put(url, content=path.read_bytes())  # noqa: ASYNC240
        if put.status_code != 200:
            self.failures.append(f"upload PUT: HTTP {put.status_code}")
        return f"{self.api_base}/v1/storage/{request_id}-{path.name}"

    async def _refresh_claim(self, client: httpx.AsyncClient, request_id: str) -> None:
        """Mirror ``Runner.refresh_job_claim``: async workers send ``running`` periodically."""
        if self.heartbeat is None:
            return
        while True:
            await asyncio.sleep(self.heartbeat)
            await self.update_job_status(client, request_id, "running")

    async def _handle(self, client: httpx.AsyncClient, job: dict[str, Any]) -> dict[str, Any]:
        """Mirror ``Runner.handle_job``: predict, then upload every FileOutput value."""
        result = self.predict(dict(job["payload"]))
        output = await result if inspect.isawaitable(result) else result
        return {
            key: await self.upload_file(client, job["request_id"], value)
            if isinstance(value, FileOutput)
            else value
            for key, value in output.items()
        }

    async def run_one_job(self, client: httpx.AsyncClient, stop: threading.Event) -> None:
        """Mirror ``Runner.run_one_job``: claim, heartbeat while predicting, report."""
        job = await self.get_job(client, stop)
        request_id = job["request_id"]
        refresh = asyncio.create_task(self._refresh_claim(client, request_id))
        try:
            try:
                output = await self._handle(client, job)
            finally:
                refresh.cancel()  # no more "running" before the terminal status
        except Exception as exc:
            await self.update_job_status(client, request_id, "failed", info={"error": repr(exc)})
        else:
            await self.update_job_status(client, request_id, "done", outputs=output)
        self.done += 1

    async def serve(self, jobs: int, stop: threading.Event) -> None:
        """Run ``jobs`` jobs, or until ``stop`` is set."""
        async with self._client() as client:
            while self.done < jobs and not stop.is_set():
                try:
                    await self.run_one_job(client, stop)
                except asyncio.CancelledError:
                    return


class WorkerThread:
    """``worker.serve(jobs)`` in a background thread; ``stop()`` ends it within seconds."""

    def __init__(self, worker: SprocketLikeWorker, jobs: int) -> None:
        self.worker = worker
        self._stop = threading.Event()
        self._errors: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, args=(jobs,), daemon=True)

    def _run(self, jobs: int) -> None:
        try:
            asyncio.run(self.worker.serve(jobs, self._stop))
        except BaseException as exc:
            self._errors.append(exc)

    def __enter__(self) -> WorkerThread:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self, timeout: float = 15.0) -> None:
        """Ask the worker to stop and wait for it (its long poll ends within 5 s)."""
        self._stop.set()
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the worker did not stop"
        if self._errors:
            raise self._errors[0]

    def join(self, timeout: float) -> None:
        """Wait until the worker served its jobs; fail after ``timeout`` seconds."""
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"the worker did not finish within {timeout} s"
        if self._errors:
            raise self._errors[0]
