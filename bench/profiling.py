"""Where our code spends a benchmark's time: pyinstrument samples, attributed to our functions.

For every function of `together_queue` / `together_queue_api`, its *own cost* is the
time spent in it and in whatever it calls, except the HTTP stack (httpx, httpcore,
h11, anyio, asyncio, sockets): that part is the floor every client pays, so what
remains is what our code adds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyinstrument import Profiler
from pyinstrument.frame import Frame

from bench.report import Table

OURS = ("together_queue/", "together_queue_api/")
# Time under these is sending and receiving: not attributable to the client's own logic.
HTTP_STACK = ("/httpx/", "/httpcore/", "/h11/", "/anyio/", "/asyncio/", "/selectors.py", "/ssl.py")
_INTERVAL = 0.0002


def _is_ours(frame: Frame) -> bool:
    path = frame.file_path or ""
    return any(part in path for part in OURS) and "/emulator/" not in path


def _is_http(frame: Frame) -> bool:
    path = frame.file_path or ""
    return any(part in path for part in HTTP_STACK)


def _own_cost(frame: Frame) -> float:
    """Time in `frame` and its callees, without time spent in the HTTP stack."""
    if not frame.children:
        return frame.time
    total = 0.0
    for child in frame.children:
        if child.is_synthetic:  # pyinstrument's [self] / [await] leaves
            total += child.time
        elif not (_is_http(child) and not _is_ours(child)):
            total += _own_cost(child)
    return total


def _walk(frame: Frame, costs: dict[str, list[float]], outer: list[float], inside: bool) -> None:
    """Collect (inclusive, own) per function of ours; `outer` sums the outermost ones."""
    ours = _is_ours(frame)
    if ours:
        key = f"`{frame.function}` ({(frame.file_path_short or '').split('/')[-1]}:{frame.line_no})"
        entry = costs.setdefault(key, [0.0, 0.0])
        own = _own_cost(frame)
        entry[0] += frame.time
        entry[1] += own
        if not inside:
            outer[0] += frame.time
            outer[1] += own
    for child in frame.children:
        _walk(child, costs, outer, inside or ours)


def attribute(fn: Callable[[], Any], title: str, top: int = 12) -> str:
    """Run `fn` under pyinstrument; a Markdown table of our functions by own cost share."""
    profiler = Profiler(interval=_INTERVAL, async_mode="disabled")
    profiler.start()
    try:
        fn()
    finally:
        session = profiler.stop()
    root = session.root_frame()
    if root is None:
        return f"{title}: no samples"
    total = root.time or 1e-9
    costs: dict[str, list[float]] = {}
    outer = [0.0, 0.0]
    _walk(root, costs, outer, False)
    table = Table(["Function (ours)", "share incl. HTTP stack", "share excl. HTTP stack"])
    for key, (inclusive, own) in sorted(costs.items(), key=lambda kv: -kv[1][1])[:top]:
        table.add(key, f"{inclusive / total:.1%}", f"{own / total:.1%}")
    return (
        f"{title} (pyinstrument, {total:.2f} s sampled; inside our functions: "
        f"{outer[0] / total:.1%} of samples, of which {outer[1] / total:.1%} outside the HTTP "
        f"stack, i.e. our own logic and the libraries it calls):\n\n{table.markdown()}"
    )
