"""The waiting and file work of the sync half; the blocking twin of `_async/_io.py`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def sleep(seconds: float) -> None:
    """Wait `seconds`."""
    time.sleep(seconds)


def file_io(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run file work here: the caller is blocking already."""
    return function(*args, **kwargs)
