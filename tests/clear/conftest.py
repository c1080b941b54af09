"""Fixtures of the clear tests: the emulator plugin's fixtures and an anyio backend."""

from __future__ import annotations

import pytest

from together_queue.testing import queue_emulator, queue_emulator_factory

__all__ = ["queue_emulator", "queue_emulator_factory"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
