"""Per-call options, raw responses, http request ids and TOGETHER_LOG, against the emulator.

Each test reads what the emulator really received or sent (`recorded`), sync and async.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable

import pytest

from tests.integration.client.conftest import Exchanges
from together_queue import (
    APITimeoutError,
    AsyncQueueClient,
    JobStatus,
    NotFoundError,
    PollPolicy,
    QueueClient,
)
from together_queue.emulator import EmulatorHandle

FAST = PollPolicy(initial=0.02, multiplier=1.5, max_interval=0.2)
Recorded = tuple[EmulatorHandle, Exchanges]
ID = re.compile(r"^req_[0-9a-f]{24}$")


def test_extra_headers_and_query_reach_the_server(recorded: Recorded) -> None:
    emulator, exchanges = recorded
    with QueueClient(api_key="", base_url=emulator.url, default_headers={"X-Team": "a"}) as client:
        job = client.submit("echo", {"x": 1}, extra_headers={"X-Trace": "t-1"})
        client.status(
            job.request_id, model="echo", extra_headers={"X-Team": "b"}, extra_query={"debug": 1}
        )
        job.cancel(extra_headers={"X-Trace": "t-2"})
    submit, status, cancel = (exchanges.to(p)[0] for p in ("/submit", "/status", "/cancel"))
    assert (submit.headers["x-trace"], submit.headers["x-team"]) == ("t-1", "a")
    assert status.headers["x-team"] == "b"  # a per-call header wins over a default one
    assert "debug=1" in status.query.split("&")
    assert f"request_id={job.request_id}" in status.query.split("&")
    assert cancel.headers["x-trace"] == "t-2"
    assert "x-trace" not in status.headers  # per call, not sticky


@pytest.mark.anyio
async def test_extra_headers_and_query_reach_the_server_async(recorded: Recorded) -> None:
    emulator, exchanges = recorded
    async with AsyncQueueClient(
        api_key="", base_url=emulator.url, default_headers={"X-Team": "a"}
    ) as client:
        job = await client.submit("echo", {"x": 1}, extra_headers={"X-Trace": "t-1"})
        await job.status(extra_query={"debug": "yes"}, extra_headers={"X-Trace": "t-3"})
    submit, status = exchanges.to("/submit")[0], exchanges.to("/status")[0]
    assert (submit.headers["x-trace"], submit.headers["x-team"]) == ("t-1", "a")
    assert (status.headers["x-trace"], status.headers["x-team"]) == ("t-3", "a")
    assert "debug=yes" in status.query.split("&")


def test_a_per_call_timeout_cuts_a_slow_call(recorded: Recorded) -> None:
    emulator, exchanges = recorded
    emulator.set_faults(["metrics:latency:1:seconds=2"])
    with QueueClient(api_key="", base_url=emulator.url, max_retries=0) as client:
        with pytest.raises(APITimeoutError):
            client.metrics("echo", timeout=0.2)
        emulator.clear_faults()
        assert client.metrics("echo", timeout=5).total_jobs == 0  # the option is per call
    assert len(exchanges.to("/metrics")) == 2


@pytest.mark.anyio
async def test_a_per_call_timeout_cuts_a_slow_call_async(recorded: Recorded) -> None:
    emulator, _ = recorded
    emulator.set_faults(["status:latency:1:seconds=2"])
    async with AsyncQueueClient(api_key="", base_url=emulator.url, max_retries=0) as client:
        with pytest.raises(APITimeoutError):
            await client.status("any", model="echo", timeout=0.2)


def test_raw_status_shows_the_servers_request_id_and_parses_to_the_same_status(
    recorded: Recorded,
) -> None:
    emulator, exchanges = recorded
    with QueueClient(api_key="", base_url=emulator.url, poll=FAST) as client:
        raw_submit = client.with_raw_response.submit("echo", {"x": 1})
        job = raw_submit.parse()
        job.wait(timeout=30)
        raw = client.with_raw_response.status(job.request_id, model="echo")
        plain = client.status(job.request_id, model="echo")
    assert raw.status_code == 200
    assert raw.http_request_id == exchanges.to("/status")[-2].http_request_id
    assert raw.http_request_id is not None and ID.match(raw.http_request_id)
    assert raw.headers["content-type"].startswith("application/json")
    assert raw.retries_taken == 0 and raw.elapsed.total_seconds() >= 0
    parsed = raw.parse()
    assert isinstance(parsed, JobStatus) and parsed == plain
    assert raw_submit.http_request_id == exchanges.to("/submit")[0].http_request_id
    assert job.model == "echo"


@pytest.mark.anyio
async def test_raw_status_shows_the_servers_request_id_async(recorded: Recorded) -> None:
    emulator, exchanges = recorded
    emulator.set_faults(["status:500:next=1"])
    async with AsyncQueueClient(api_key="", base_url=emulator.url, poll=FAST) as client:
        job = (await client.with_raw_response.submit("echo", {"x": 1})).parse()
        raw = await client.with_raw_response.status(job.request_id, model="echo")
        plain = await client.status(job.request_id, model="echo")
        metrics = (await client.with_raw_response.metrics("echo")).parse()
    first, second = exchanges.to("/status")[:2]
    assert (first.status, second.status) == (500, 200)
    assert raw.retries_taken == 1  # the injected 500 was retried
    assert raw.http_request_id == second.http_request_id
    assert raw.parse().request_id == plain.request_id == job.request_id
    assert metrics.model == "echo"


def test_a_404_carries_the_http_request_id_the_server_sent(recorded: Recorded) -> None:
    emulator, exchanges = recorded
    with QueueClient(api_key="", base_url=emulator.url) as client:
        with pytest.raises(NotFoundError) as info:
            client.status("no-such-job", model="echo")
    sent = exchanges.to("/status")[0].http_request_id
    assert sent is not None and info.value.http_request_id == sent
    assert sent in str(info.value)


@pytest.mark.anyio
async def test_a_404_carries_the_http_request_id_the_server_sent_async(recorded: Recorded) -> None:
    emulator, exchanges = recorded
    async with AsyncQueueClient(api_key="", base_url=emulator.url) as client:
        with pytest.raises(NotFoundError) as info:
            await client.job("no-such-job", model="echo").status()
    assert info.value.http_request_id == exchanges.to("/status")[0].http_request_id


@pytest.mark.parametrize("name", ["Authorization", "authorization"])
def test_an_authorization_header_is_refused_before_sending(recorded: Recorded, name: str) -> None:
    emulator, exchanges = recorded
    with QueueClient(api_key="", base_url=emulator.url) as client:
        with pytest.raises(ValueError, match="api_key"):
            client.submit("echo", {"x": 1}, extra_headers={name: "Bearer sk-other"})
        with pytest.raises(ValueError, match="api_key"):
            client.with_options(default_headers={name: "Bearer sk-other"})
    with pytest.raises(ValueError, match="api_key"):
        QueueClient(api_key="", base_url=emulator.url, default_headers={name: "Bearer x"})
    assert exchanges.to("/v1/queue/submit") == []


@pytest.mark.anyio
async def test_an_authorization_header_is_refused_before_sending_async(recorded: Recorded) -> None:
    emulator, exchanges = recorded
    async with AsyncQueueClient(api_key="", base_url=emulator.url) as client:
        with pytest.raises(ValueError, match="api_key"):
            await client.status("r", model="echo", extra_headers={"AUTHORIZATION": "Bearer x"})
    assert exchanges.to("/status") == []


def test_together_log_debug_prints_one_line_per_request_and_never_the_key(
    recorded_emulator: Callable[..., Recorded],
) -> None:
    key = "sk-log-test-key-0123456789"
    emulator, exchanges = recorded_emulator(api_keys=[key])
    code = textwrap.dedent(
        f"""
        from together_queue import NotFoundError, QueueClient
        with QueueClient(api_key={key!r}, base_url={emulator.url!r}) as client:
            job = client.submit("echo", {{"secret": "PAYLOAD-MARK-42"}})
            client.status(job.request_id, model="echo")
            try:
                client.status("no-such-job", model="echo")
            except NotFoundError:
                pass
        """
    )
    env = {**os.environ, "TOGETHER_LOG": "debug"}
    env.pop("TOGETHER_API_KEY", None)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if " -> " in line]
    sent = [e for e in exchanges.seen if e.path.startswith("/v1/")]
    assert len(lines) == len(sent) == 3
    for line, exchange in zip(lines, sent, strict=True):
        assert f"{exchange.method} " in line and f"-> {exchange.status} " in line
        assert f"http_request_id={exchange.http_request_id}" in line
    assert key not in done.stderr and "PAYLOAD-MARK-42" not in done.stderr
    assert "Bearer" not in done.stderr
