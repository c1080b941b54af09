"""Fixtures of the emulator's integration tests: emulators on loopback, spec-checked clients."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from together_queue.emulator import EmulatorHandle
from together_queue.testing import queue_emulator, queue_emulator_factory

from .spec_check import SpecChecker

__all__ = ["queue_emulator", "queue_emulator_factory"]

Api = Callable[..., httpx.Client]
Factory = Callable[..., EmulatorHandle]

_CHECKER = SpecChecker()


@pytest.fixture(scope="session")
def spec_checker() -> SpecChecker:
    """The one checker that every spec-checked client of the session reports to."""
    return _CHECKER


def _check_response(response: httpx.Response) -> None:
    response.read()
    try:
        body = response.json()
    except json.JSONDecodeError:
        raise AssertionError(
            f"{response.request.method} {response.url.path} {response.status_code}: "
            f"not JSON: {response.text[:200]!r}"
        ) from None
    _CHECKER.check(response.request.method, response.url.path, response.status_code, body)


@pytest.fixture
def api() -> Iterator[Api]:
    """``api(handle, **httpx_kwargs)``: an httpx.Client on the emulator.

    Every /v1 response it receives is validated against openapi.yaml.
    """
    clients: list[httpx.Client] = []

    def make(handle: EmulatorHandle, **kwargs: Any) -> httpx.Client:
        kwargs.setdefault("timeout", 10.0)
        client = httpx.Client(
            base_url=handle.url, event_hooks={"response": [_check_response]}, **kwargs
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
