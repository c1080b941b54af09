"""In-process model handlers: the built-in `echo`, `sleep` and `fail`, and user functions.

Every handler is adapted to one shape, `async handler(payload, report) -> outputs`,
where `report(info)` merges `info` into the job's info (and renews its claim). A
user handler (`module:func`) is a plain or async function taking `payload` or
`(payload, report)`; a plain function runs in a thread so it cannot stall the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import os
import sys
import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

__all__ = [
    "BUILTIN_HANDLERS",
    "MAX_SLEEP_SECONDS",
    "Handler",
    "HandlerFailed",
    "Report",
    "load_handler",
    "report_info",
]

Report = Callable[[Mapping[str, Any] | float], None]
"""`report({"progress": 0.5, ...})` merges the mapping into the job's info and renews
the claim; `report(0.5)` is short for `report({"progress": 0.5})`."""

Handler = Callable[[dict[str, Any], Report], Awaitable[object]]
"""The adapted handler shape: `await handler(payload, report)` returns the outputs."""

MAX_SLEEP_SECONDS = 60.0
"""The `sleep` handler never sleeps longer than this, whatever the payload asks."""

_SLEEP_STEPS = 4


def report_info(info: object) -> dict[str, Any]:
    """The info mapping that `report(info)` merges: a number means `{"progress": n}`.

    Anything else is a TypeError that shows the callback's signature.
    """
    if isinstance(info, int | float) and not isinstance(info, bool):
        return {"progress": info}
    if isinstance(info, Mapping):
        return dict(info)
    raise TypeError(
        "report() takes a mapping merged into the job's info, e.g. report({'progress': 0.5}), "
        f"or a number, the progress: report(0.5); not {type(info).__name__}"
    )


class HandlerFailed(Exception):
    """Raised by a handler to fail the job with a message (any exception does the same)."""


async def _echo(payload: dict[str, Any], report: Report) -> object:
    return dict(payload)


async def _sleep(payload: dict[str, Any], report: Report) -> object:
    seconds = payload.get("seconds", 1.0)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise HandlerFailed("payload.seconds must be a number >= 0")
    seconds = min(float(seconds), MAX_SLEEP_SECONDS)
    report({"progress": 0.0})
    for step in range(1, _SLEEP_STEPS + 1):
        await asyncio.sleep(seconds / _SLEEP_STEPS)
        report({"progress": step / _SLEEP_STEPS})
    return {"slept": seconds}


async def _fail(payload: dict[str, Any], report: Report) -> object:
    raise HandlerFailed(str(payload.get("message", "the fail handler fails every job")))


_BUILTINS: dict[str, Handler] = {"echo": _echo, "sleep": _sleep, "fail": _fail}

BUILTIN_HANDLERS = tuple(_BUILTINS)
"""Names of the built-in in-process handlers."""


def _takes_report(func: Callable[..., object]) -> bool:
    """Whether `func` accepts a second positional argument (the report callback)."""
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = 0
    for param in params:
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            return True
        if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            positional += 1
    return positional >= 2


def _is_async(func: Callable[..., object]) -> bool:
    return inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
        getattr(func, "__call__", None)  # noqa: B004 - an object with an async __call__
    )


async def _in_daemon_thread(func: Callable[..., object], *args: object) -> object:
    """`await func(*args)` in a daemon thread.

    Not `asyncio.to_thread`: `asyncio.run` joins the default executor when the loop
    closes, so one sync handler still running would hold the emulator's stop until it returns.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[object] = loop.create_future()

    def deliver(outcome: Callable[[Any], None], value: Any) -> None:
        if not future.done():
            outcome(value)

    def target() -> None:
        try:
            result = func(*args)
        except BaseException as exc:
            outcome: tuple[Callable[[Any], None], Any] = (future.set_exception, exc)
        else:
            outcome = (future.set_result, result)
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
            loop.call_soon_threadsafe(deliver, *outcome)

    threading.Thread(target=target, name="emulator-handler", daemon=True).start()
    return await future


def _adapt(func: Callable[..., object]) -> Handler:
    with_report = _takes_report(func)
    is_async = _is_async(func)

    async def handler(payload: dict[str, Any], report: Report) -> object:
        args = (payload, report) if with_report else (payload,)
        if is_async:
            result = func(*args)
        else:
            result = await _in_daemon_thread(func, *args)
        if inspect.isawaitable(result):
            result = await result
        return result

    return handler


def _import_from_cwd_too(module_name: str) -> object:
    """Import `module_name`, also from the current folder, as `python -m` would.

    A console script's `sys.path` lacks the current folder, so `--model m=mine:run`
    would not find ./mine.py. The folder is added only when the module is not found
    otherwise, and then stays (the handler may import its neighbours later).
    """
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        top = module_name.partition(".")[0]
        cwd = os.getcwd()
        if exc.name != top or cwd in sys.path or "" in sys.path:
            raise
        sys.path.insert(0, cwd)
        return importlib.import_module(module_name)


def load_handler(spec: str) -> Handler:
    """The handler for `echo`, `sleep`, `fail` or `module:func` (ValueError if none)."""
    if spec in _BUILTINS:
        return _BUILTINS[spec]
    module_name, sep, attr_path = spec.partition(":")
    if not sep or not module_name or not attr_path:
        raise ValueError(f"handler {spec!r}: expected echo, sleep, fail or module:func")
    try:
        target: object = _import_from_cwd_too(module_name)
    except ImportError as exc:
        raise ValueError(f"handler {spec!r}: cannot import {module_name!r}: {exc}") from exc
    for part in attr_path.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ValueError(f"handler {spec!r}: {module_name!r} has no {attr_path!r}") from None
    if not callable(target):
        raise ValueError(f"handler {spec!r}: {attr_path!r} is not callable")
    return _adapt(target)
