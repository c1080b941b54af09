"""The waiting and file work of the async half; `_sync/_io.py` is its blocking twin.

asyncio loads with the first call (through `_lazy`), not with this module: a sync
user never pays for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from together_queue import _lazy

P = ParamSpec("P")
R = TypeVar("R")


async def sleep(seconds: float) -> None:
    """Wait `seconds` without blocking the event loop."""
    await _lazy.asyncio.sleep(seconds)


async def file_io(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run blocking file work in a thread, so that the disk never stalls the event loop."""
    return await _lazy.asyncio.to_thread(function, *args, **kwargs)
