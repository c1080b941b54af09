"""Write the sync half of each sync/async pair from its async source, or check it for drift.

Usage:
    python tools/unasync.py          write overlay/together_queue/_sync/ from _async/
    python tools/unasync.py --check  fail, with a diff, when a committed sync file differs

The async modules (`overlay/together_queue/_async/`) are the source, as in httpcore's
`scripts/unasync.py`: each rule below turns an async construct or name into its sync
twin (`async def` into `def`, `AsyncQueueClient` into `QueueClient`, `Awaitable[X]`
into `X`, ...), then ruff sorts the imports, drops the ones left unused and formats
the result, so the output is stable and reads like hand-written code. `_io.py`, the
waiting and file work, is written by hand on both sides.
"""

from __future__ import annotations

import argparse
import difflib
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path("overlay/together_queue")
SOURCE = PACKAGE / "_async"
TARGET = PACKAGE / "_sync"
CONFIG = ROOT / "pyproject.toml"
MODULES = ("client.py", "jobs.py", "download.py")
"""The async modules whose sync twin is generated (`_io.py` is hand-written on both sides)."""

# (pattern, replacement), applied in this order. Code first, then the names, then prose.
RULES: tuple[tuple[str, str], ...] = (
    (r"\basync def\b", "def"),
    (r"\basync for\b", "for"),
    (r"\basync with\b", "with"),
    (r"\bawait ", ""),
    (r"\btogether_queue\._async\b", "together_queue._sync"),
    (r"\b_async/", "_sync/"),
    (r"\bAsyncQueueClient\b", "QueueClient"),
    (r"\bAsyncJob\b", "Job"),
    (r"\bAsyncRawResponses\b", "RawResponses"),
    (r"\bdefault_async_http_client\b", "default_http_client"),
    (r"\bAsyncSubmitStream\b", "SubmitStream"),
    (r"\bAsyncIterator\b", "Iterator"),
    (r"\bAsyncIterable\b", "Iterable"),
    (r"\bAsyncGenerator\b", "Generator"),
    (r"\bAsyncClient\b", "Client"),
    (r"\bAsyncHTTPTransport\b", "HTTPTransport"),
    (r"\bStopAsyncIteration\b", "StopIteration"),
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"\b__aiter__\b", "__iter__"),
    (r"\b__anext__\b", "__next__"),
    (r"\baclose\b", "close"),
    (r"\baread\b", "read"),
    (r"\baiter_bytes\b", "iter_bytes"),
    (r"\barun_many\b", "run_many"),
    (r"\baiter_completed\b", "iter_completed"),
    (r"\basync_download\b", "sync_download"),
    (r"\bAsynchronous\b", "Synchronous"),
    (r"\basynchronous\b", "synchronous"),
    (r"\ban async\b", "a sync"),
    (r"\basync\b", "sync"),
)
_COMPILED = tuple((re.compile(pattern), replacement) for pattern, replacement in RULES)
_AWAITABLE = re.compile(r"\bAwaitable\[")


class UnasyncError(Exception):
    """The sync half could not be written; the message says why."""


def _header(source: Path) -> str:
    return (
        f"# Generated from {source.as_posix()} by tools/unasync.py: do not edit.\n"
        "# Edit the async source, then run `nox -s unasync`.\n"
    )


def _drop_awaitable(text: str) -> str:
    """`Awaitable[X]` becomes `X`, however deeply X nests brackets."""
    while (found := _AWAITABLE.search(text)) is not None:
        depth = 1
        index = found.end()
        while depth:
            if index >= len(text):
                raise UnasyncError(f"unbalanced brackets after {found.group()!r}")
            depth += {"[": 1, "]": -1}.get(text[index], 0)
            index += 1
        text = text[: found.start()] + text[found.end() : index - 1] + text[index:]
    return text


def rewrite(text: str) -> str:
    """The sync twin of the async source `text`, before formatting."""
    for pattern, replacement in _COMPILED:
        text = pattern.sub(replacement, text)
    return _drop_awaitable(text)


def _ruff(args: list[str], text: str, filename: Path) -> str:
    proc = subprocess.run(
        # The project's own ruff settings, wherever `filename` is (a test checks a copy).
        [
            sys.executable,
            "-m",
            "ruff",
            *args,
            "--config",
            str(CONFIG),
            "--stdin-filename",
            str(filename),
            "-",
        ],
        input=text,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    if proc.returncode != 0:
        raise UnasyncError(f"ruff {args[0]} failed on {filename}: {proc.stderr.strip()}")
    return proc.stdout


def _tidy(text: str, filename: Path) -> str:
    """Sort the imports, drop the unused ones, format: the output ruff itself would keep."""
    fixes = ["check", "--fix", "--exit-zero", "--quiet", "--select", "I,F401"]
    fixed = _ruff(fixes, text, filename)
    return _ruff(["format", "--quiet"], fixed, filename)


def generate(root: Path, tidy: Callable[[str, Path], str] = _tidy) -> dict[Path, str]:
    """Each sync module's path under `root` and the text it must have."""
    out: dict[Path, str] = {}
    for name in MODULES:
        source = SOURCE / name
        try:
            text = (root / source).read_text(encoding="utf-8")
        except OSError as exc:
            raise UnasyncError(f"cannot read the async source {source}: {exc}") from None
        target = TARGET / name
        out[root / target] = _header(source) + tidy(rewrite(text), root / target)
    return out


def write(root: Path) -> list[Path]:
    """Write every sync module under `root`; return those whose text changed."""
    changed = []
    for path, text in generate(root).items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def check(root: Path) -> list[str]:
    """One message (with a diff) per sync module under `root` that differs from its source."""
    problems = []
    for path, expected in generate(root).items():
        shown = path.relative_to(root).as_posix()
        actual = path.read_text(encoding="utf-8") if path.exists() else ""
        if actual == expected:
            continue
        diff = "".join(
            difflib.unified_diff(
                actual.splitlines(keepends=True),
                expected.splitlines(keepends=True),
                fromfile=f"{shown} (committed)",
                tofile=f"{shown} (generated)",
            )
        )
        problems.append(
            f"{shown}: edited by hand or stale: run `nox -s unasync` "
            f"(it is generated from {(SOURCE / path.name).as_posix()})\n{diff}"
        )
    return problems


def main(argv: list[str] | None = None) -> int:
    """Write the sync modules, or with `--check` report the ones that differ."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    parser.add_argument("--root", type=Path, default=ROOT, help="the project folder")
    args = parser.parse_args(argv)
    try:
        if args.check:
            problems = check(args.root)
            for problem in problems:
                print(problem)
            if problems:
                return 1
            print(f"{TARGET.as_posix()}: up to date with {SOURCE.as_posix()}")
            return 0
        changed = write(args.root)
    except UnasyncError as exc:
        print(f"unasync: {exc}", file=sys.stderr)
        return 2
    for path in changed:
        print(f"wrote {path.relative_to(args.root).as_posix()}")
    if not changed:
        print(f"{TARGET.as_posix()}: already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
