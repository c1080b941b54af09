from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.support.scripted_server import ScriptedServer, scripted_server
from together_queue import AsyncQueueClient, PollPolicy, QueueClient

# Fast polling and retries keep the suite quick; the behaviour under test is the same.
FAST_POLL = PollPolicy(initial=0.01, multiplier=1.5, max_interval=0.05, jitter=0.0)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with scripted_server() as srv:
        yield srv


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    # Retry backoff starts at 0.5 s in production; tests only need its order, not its size.
    from together_queue import _retry

    monkeypatch.setattr(_retry.RetryPolicy, "backoff", lambda self, attempt, rng=None: 0.01)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    monkeypatch.delenv("TOGETHER_BASE_URL", raising=False)


@pytest.fixture
def client(server: ScriptedServer) -> Iterator[QueueClient]:
    with QueueClient(base_url=server.url, api_key="sk-test-secret", poll=FAST_POLL) as c:
        yield c


@pytest.fixture
async def aclient(server: ScriptedServer) -> AsyncIterator[AsyncQueueClient]:
    async with AsyncQueueClient(base_url=server.url, api_key="sk-test-secret", poll=FAST_POLL) as c:
        yield c
