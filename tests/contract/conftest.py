"""Fixtures of the contract tests: openapi-core recorders, checked clients, keyed emulators."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.contract.params import API_KEY, MAX_BODY_BYTES
from tests.support.contract import (
    CheckingTransport,
    ContractRecorder,
    contract_checked_async_client,
    contract_checked_client,
    contract_recorder,
    openapi_contract,
)
from together_queue.emulator import EmulatorHandle
from together_queue.testing import DEFAULT_TEST_MODELS, queue_emulator_factory

__all__ = [
    "contract_checked_async_client",
    "contract_checked_client",
    "contract_recorder",
    "openapi_contract",
    "queue_emulator_factory",
]


def pytest_configure(config: pytest.Config) -> None:
    """Register `contract_exempt` here too: the session plugin may not be loaded."""
    config.addinivalue_line(
        "markers", "contract_exempt(reason): the session-wide contract check ignores this test"
    )


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def emulator(queue_emulator_factory: Any) -> EmulatorHandle:
    """An emulator on loopback that requires API_KEY, with the echo/sleep/fail models."""
    handle: EmulatorHandle = queue_emulator_factory(
        models=DEFAULT_TEST_MODELS,
        api_keys=(API_KEY,),
        max_body_bytes=MAX_BODY_BYTES,
        claim_timeout=2.0,
    )
    return handle


@pytest.fixture
def raw_http(
    emulator: EmulatorHandle, openapi_contract: Any
) -> Iterator[tuple[httpx.Client, ContractRecorder]]:
    """A raw httpx client (no key, base URL `/v1`) whose requests and responses are recorded.

    For requests the overlay would refuse to send (bad fields): tests assert what the
    recorder found about the request, and that the response conforms. The recorder is
    not the fixture one, so its request violations do not fail the test by themselves.
    """
    recorder = ContractRecorder(openapi_contract)
    client = httpx.Client(
        base_url=emulator.api_url,
        transport=CheckingTransport(httpx.HTTPTransport(), recorder),
        timeout=10.0,
    )
    with client:
        yield client, recorder
