"""`together-queue download URL [-o PATH]`: fetch a job's file output to disk.

A progress bar is drawn on stderr when stderr is a terminal and the file is large
(or of unknown size); pipes and small files stay quiet. Imported only when the
command runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from together_queue.cli.common import EXIT_OK, UsageError, make_client

if TYPE_CHECKING:
    from together_queue.cli.output import LiveLine

__all__ = ["PROGRESS_MIN_BYTES", "add_download_parser", "cmd_download"]

PROGRESS_MIN_BYTES = 4 * 1024 * 1024
"""Files smaller than this download without a progress bar."""


def add_download_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    """Register the `download` command (global options come through `common`)."""
    download = commands.add_parser(
        "download",
        parents=[common],
        help="download a job's file output (a /v1/storage/... URL)",
        description="Download a file output URL. The API key is sent only to the API's own "
        "origin, never across a redirect to another; the file is written atomically. "
        "In a folder, the file is named after URL itself (never after a redirect); an "
        "existing file is replaced only with --force.",
    )
    download.add_argument("url", metavar="URL", help="the output URL")
    download.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        default=".",
        help="file to write, or a folder to keep the URL's file name (default: .)",
    )
    download.add_argument(
        "--force", action="store_true", help="replace the file if it exists (default: refuse)"
    )


def _size(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


class _Progress:
    """`on_progress` for the client: a live bar on a terminal, once the file is large."""

    def __init__(self, name: str) -> None:
        from together_queue.cli.output import is_tty

        self.name = name
        self.line: LiveLine | None = None
        self.enabled = is_tty(sys.stderr)

    def __call__(self, received: int, total: int | None) -> None:
        from together_queue.cli.output import LiveLine, progress_bar

        if not self.enabled:
            return
        if self.line is None:
            if total is not None and total < PROGRESS_MIN_BYTES:
                self.enabled = False
                return
            self.line = LiveLine(sys.stderr)
        if total:
            text = f"{self.name} {progress_bar(received, total)} {_size(received)} / {_size(total)}"
        else:
            text = f"{self.name} {_size(received)}"
        self.line.update(text)

    def close(self) -> None:
        if self.line is not None:
            self.line.close()


def cmd_download(args: argparse.Namespace) -> int:
    """`download`: write the file at URL to `-o PATH`; print where it went."""
    from together_queue.cli.output import emit_json, printable
    from together_queue.errors import ConfigurationError

    progress = _Progress(printable(Path(args.url.split("?", 1)[0]).name or "download"))
    with make_client(args) as client:
        try:
            path = client.download(
                args.url, args.output, on_progress=progress, overwrite=args.force
            )
        except ConfigurationError as exc:  # a bad URL or destination: the user's to fix
            raise UsageError(str(exc)) from None
        except FileExistsError as exc:
            raise UsageError(
                f"{printable(exc.filename)} exists: pass --force to replace it"
            ) from None
        finally:
            progress.close()
    if args.json:
        emit_json({"path": str(path), "bytes": path.stat().st_size})
    else:
        print(printable(path))
    return EXIT_OK
