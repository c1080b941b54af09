"""Pytest fixtures that run the local Queue emulator (a `pytest11` plugin).

Fixtures:

- `queue_emulator`: an emulator served by uvicorn on a free loopback port for one
  test, with in-process models `echo`, `sleep` and `fail` and a short claim
  timeout; yields its handle (`.url`, `.api_url`, `.dashboard_url`, `.config`,
  `.set_faults()`).
- `queue_emulator_factory`: `start(config=None, *, tls=False, **overrides)` starts
  more emulators; `overrides` are `EmulatorConfig` fields (`models`, `api_keys`,
  `claim_timeout`, `db`, `faults`, ...); `tls=True` serves HTTPS with a fresh
  local CA (`handle.ca_file`, `handle.ssl_context()`), `tls=DIR` writes it into
  DIR. All stop at the end of the test.
- `queue_client` / `async_queue_client`: `together_queue.QueueClient` /
  `AsyncQueueClient` pointed at `queue_emulator` (the async one is an async fixture:
  use it from an anyio test, `@pytest.mark.anyio`).

Importing this module is cheap: starlette, uvicorn and the client load only when a
fixture runs, so installing the package never slows down unrelated test suites.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from together_queue._extras import INSTALL_EMULATOR

if TYPE_CHECKING:
    from together_queue.emulator import EmulatorConfig, EmulatorHandle

__all__ = [
    "DEFAULT_TEST_MODELS",
    "async_queue_client",
    "queue_client",
    "queue_emulator",
    "queue_emulator_factory",
]

DEFAULT_TEST_MODELS = {"echo": "echo", "sleep": "sleep", "fail": "fail"}
"""The in-process models of `queue_emulator`."""

_DEFAULT_TEST_CLAIM_TIMEOUT = 2.0
_INSTALL_HINT = f"install it with {INSTALL_EMULATOR}"

EmulatorFactory = Callable[..., "EmulatorHandle"]


def _start_emulator() -> Callable[..., contextlib.AbstractContextManager[EmulatorHandle]]:
    """`start_emulator`, or a failed test setup that says which extra to install."""
    try:
        from together_queue.emulator import start_emulator
    except ImportError as exc:
        # Starlette and uvicorn come with the extra; the plugin itself loads without them.
        pytest.fail(f"together_queue.testing: {exc}; {_INSTALL_HINT}", pytrace=False)
    return start_emulator


@pytest.fixture
def queue_emulator_factory() -> Iterator[EmulatorFactory]:
    """Yield `start(config=None, *, tls=False, **overrides)`: an emulator until test end.

    `tls=True` serves HTTPS with a new local CA in a temporary directory; `tls=DIR`
    uses (or creates) the CA in DIR. The handle's `ca_file` is the CA to trust.
    """
    start_emulator = _start_emulator()

    with contextlib.ExitStack() as stack:

        def start(
            config: EmulatorConfig | None = None,
            *,
            tls: bool | str | os.PathLike[str] = False,
            **overrides: Any,
        ) -> EmulatorHandle:
            tls_dir: str | os.PathLike[str] | None = None
            if tls is True:
                tls_dir = stack.enter_context(
                    tempfile.TemporaryDirectory(prefix="together-queue-emulator-tls-")
                )
            elif tls is not False:
                tls_dir = tls
            return stack.enter_context(start_emulator(config, tls=tls_dir, **overrides))

        yield start


@pytest.fixture
def queue_emulator(queue_emulator_factory: EmulatorFactory) -> EmulatorHandle:
    """An emulator with models echo, sleep and fail and a short claim timeout."""
    return queue_emulator_factory(
        models=DEFAULT_TEST_MODELS, claim_timeout=_DEFAULT_TEST_CLAIM_TIMEOUT
    )


def _client_class(name: str) -> Any:
    # Imported by name at use: the plugin must load even where the client does not.
    return getattr(importlib.import_module("together_queue"), name)


@pytest.fixture
def queue_client(queue_emulator: EmulatorHandle) -> Iterator[Any]:
    """A `together_queue.QueueClient` talking to `queue_emulator`."""
    # api_key="": never send the user's TOGETHER_API_KEY, even to a loopback emulator.
    client = _client_class("QueueClient")(api_key="", base_url=queue_emulator.url)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
async def async_queue_client(queue_emulator: EmulatorHandle) -> AsyncIterator[Any]:
    """A `together_queue.AsyncQueueClient` talking to `queue_emulator`."""
    client = _client_class("AsyncQueueClient")(api_key="", base_url=queue_emulator.url)
    try:
        yield client
    finally:
        await client.aclose()
