"""Waiting on many jobs keeps within a rate limit: the polls share one adaptive limit."""

from __future__ import annotations

import httpx

from together_queue import QueueClient, default_http_client
from together_queue.emulator import start_emulator
from together_queue.emulator.ratelimit import parse_rate_limit

JOBS = 2000


def test_wait_all_of_many_jobs_under_a_status_rate_limit_meets_few_429s() -> None:
    # 50 polls a second, 50 at once: 2,000 polls take 40 s whatever the client does. A
    # client that only retries each refused poll after its Retry-After meets a burst of
    # 429s every second (about one per job over the run); the shared limit paces them.
    refused: list[int] = []

    def count(response: httpx.Response) -> None:
        if response.status_code == 429:
            refused.append(1)

    limits = (parse_rate_limit("status=50/s"),)
    with start_emulator(models={"echo": "echo"}, rate_limits=limits) as emulator:
        http = default_http_client(event_hooks={"response": [count]})
        with http, QueueClient(base_url=emulator.url, http_client=http) as client:
            jobs = [
                o.unwrap()
                for o in client.submit_many([{"n": n} for n in range(JOBS)], model="echo")
            ]
            outcomes = client.wait_all(jobs, timeout=300)
    assert [o.value.status if o.value else o.error for o in outcomes] == ["done"] * JOBS
    assert len(refused) <= 20, len(refused)
