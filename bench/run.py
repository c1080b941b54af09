"""Run the benchmarks and write BENCHMARKS.md: `python -m bench.run [--quick] [--only KEY ...]`."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bench import (
    machine,
    plots,
    sec_bulk,
    sec_dashboard,
    sec_emulator,
    sec_faults,
    sec_import,
    sec_overhead,
    sec_scale,
    sec_wait,
)
from bench.config import Config
from bench.report import Section, Table, headline

ROOT = Path(__file__).resolve().parent.parent
SECTIONS: dict[str, Callable[[Config], Section]] = {
    "import": sec_import.run,
    "overhead": sec_overhead.run,
    "bulk": sec_bulk.run,
    "wait": sec_wait.run,
    "emulator": sec_emulator.run,
    "faults": sec_faults.run,
    "scale": sec_scale.run,
    "dashboard": sec_dashboard.run,
}


def build_parser() -> argparse.ArgumentParser:
    """The command line of `python -m bench.run`."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny counts (the test suite's run)")
    parser.add_argument(
        "--only", action="append", choices=list(SECTIONS), help="run only these sections"
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "BENCHMARKS.md", help="Markdown report to write"
    )
    parser.add_argument("--json", type=Path, help="also write every figure as JSON here")
    parser.add_argument(
        "--note",
        action="append",
        default=[],
        help="a line for the report's header, e.g. what else ran on the machine (repeatable)",
    )
    parser.add_argument(
        "--figures",
        type=Path,
        help="directory for the SVG figures (default: docs/img beside --out)",
    )
    return parser


def render(
    sections: list[Section],
    config: Config,
    command: str,
    started: datetime.datetime,
    seconds: float,
    notes: Sequence[str] = (),
) -> str:
    """The whole BENCHMARKS.md text."""
    env = Table(["", ""])
    for label, value in machine.describe(ROOT):
        env.add(label, value)
    mode = "quick (tiny counts: the numbers mean nothing)" if config.quick else "full"
    held = sum(t.holds for s in sections for t in s.targets)
    total = sum(len(s.targets) for s in sections)
    parts = [
        "# Benchmarks",
        "together-queue against raw httpx (the floor) and the official Together SDK "
        "(`together`), on the emulator served by uvicorn in a separate process on 127.0.0.1. "
        "Every figure is the median over repeated runs with (min-max); every ratio compares "
        "medians measured in the same run, except where a section says it pairs its rounds. "
        "Written by `bench/run.py`; do not edit by hand.",
        f"- Command: `{command}`\n- Mode: {mode}\n"
        f"- Date: {started.strftime('%Y-%m-%d %H:%M UTC')}\n- Run time: {seconds:.0f} s"
        + "".join(f"\n- Note: {note}" for note in notes),
        "## Machine and versions",
        env.markdown(),
        f"## Headline: {held} of {total} targets hold",
        headline(sections).markdown(),
    ]
    parts += [section.markdown() for section in sections]
    return "\n\n".join(parts) + "\n"


def _draw_figures(sections: list[Section], figures_dir: Path, report_dir: Path) -> None:
    """Write the SVG figures and embed each in its section, linked relative to the report."""
    written = plots.write_figures([s.to_json() for s in sections], figures_dir)
    for section in sections:
        if section.key in written:
            link = Path(os.path.relpath(written[section.key], report_dir)).as_posix()
            section.figures.append(f"![{section.title}]({link})")
            print(f"bench: drew {written[section.key]}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen sections, write the report; exit 0 even when targets are missed."""
    args = build_parser().parse_args(argv)
    # SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C, so emulator processes are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    config = Config.quick_config() if args.quick else Config()
    command = "python -m bench.run " + shlex.join(list(argv if argv is not None else sys.argv[1:]))
    started = datetime.datetime.now(datetime.UTC)
    begin = time.monotonic()
    sections: list[Section] = []
    for key in args.only or list(SECTIONS):
        print(f"bench: {key} ...", flush=True)
        t0 = time.monotonic()
        section = SECTIONS[key](config)
        section.seconds = time.monotonic() - t0
        print(f"bench: {key} done in {section.seconds:.0f} s", flush=True)
        for target in section.targets:
            print(f"  {target.verdict}: {target.name}: {target.measured} ({target.goal})")
        sections.append(section)
    seconds = time.monotonic() - begin
    _draw_figures(sections, args.figures or args.out.parent / "docs" / "img", args.out.parent)
    args.out.write_text(render(sections, config, command.strip(), started, seconds, args.note))
    print(f"bench: wrote {args.out} in {seconds:.0f} s", flush=True)
    if args.json:
        args.json.write_text(json.dumps([s.to_json() for s in sections], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
