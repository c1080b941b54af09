"""Both clients' clear against the emulator over loopback HTTP."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from together_queue import AsyncQueueClient, QueueClient
from together_queue.emulator import EmulatorHandle

Factory = Callable[..., EmulatorHandle]


def test_clients_clear_on_the_emulator(queue_emulator_factory: Factory) -> None:
    handle = queue_emulator_factory()
    with QueueClient(api_key="", base_url=handle.url) as client:
        jobs = [client.submit("m", {"i": i}) for i in range(3)]
        result = client.clear("m")
        assert (result.model, result.canceled_count) == ("m", 3)
        assert {job.status().status for job in jobs} == {"canceled"}
        assert client.metrics("m").total_jobs == 0


@pytest.mark.anyio
async def test_async_client_clear_on_the_emulator(queue_emulator_factory: Factory) -> None:
    handle = queue_emulator_factory()
    async with AsyncQueueClient(api_key="", base_url=handle.url) as client:
        for i in range(2):
            await client.submit("m", {"i": i})
        assert (await client.clear("m")).canceled_count == 2
        assert (await client.clear("m")).canceled_count == 0
