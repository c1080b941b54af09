"""The release pipeline's command line (the nox sessions build, publish and api_diff call it).

Usage:
    python tools/release.py build [--dist DIR]
    python tools/release.py publish [--dist DIR] [--index-url SIMPLE_URL]
    python tools/release.py api-diff [REF]
    python tools/release.py notes VERSION
    python tools/release.py prepare VERSION [--date YYYY-MM-DD]

`publish` uploads to $TWINE_REPOSITORY_URL with $TWINE_USERNAME / $TWINE_PASSWORD.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# tools/ is not a package: make `releasing` importable however this file is run.
sys.path.insert(0, str(Path(__file__).resolve().parent))

# Only what every command needs: `notes` reads the CHANGELOG and must run in a plain venv,
# so the modules needing griffe, packaging, build or httpx load with their command.
from releasing import changelog
from releasing.project import CHANGELOG, ROOT, Refused, ReleaseError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="release.py", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build, check and smoke-test sdist and wheel")
    build.add_argument("--dist", type=Path, default=ROOT / "dist", help="output folder")
    up = commands.add_parser("publish", help="build, check and upload to $TWINE_REPOSITORY_URL")
    up.add_argument("--dist", type=Path, default=ROOT / "dist", help="output folder")
    up.add_argument("--index-url", help="the index's simple-API root, if not derivable")
    diff = commands.add_parser("api-diff", help="fail on a public API break without a major bump")
    diff.add_argument(
        "ref",
        nargs="?",
        help="git ref to compare with (default: the last release's api/ snapshot, else v* tag)",
    )
    notes = commands.add_parser("notes", help="print a version's section of CHANGELOG.md")
    notes.add_argument("version")
    prep = commands.add_parser(
        "prepare", help="set the version, date the CHANGELOG, write the API snapshot"
    )
    prep.add_argument("version")
    prep.add_argument("--date", help="the release date, YYYY-MM-DD (default: today)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one release command; return its exit status (errors are printed, not raised)."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "build":
            from releasing import pipeline

            pipeline.build_and_check(ROOT, args.dist.resolve())
        elif args.command == "publish":
            from releasing import publish

            publish.publish(ROOT, args.dist.resolve(), index_url=args.index_url)
        elif args.command == "api-diff":
            from releasing import apidiff

            return apidiff.api_diff(ROOT, args.ref)
        elif args.command == "prepare":
            from releasing import prepare

            for path in prepare.prepare(ROOT, args.version, args.date):
                print(f"wrote {path.relative_to(ROOT)}")
        else:
            text = (ROOT / CHANGELOG).read_text(encoding="utf-8")
            print(changelog.release_notes(text, args.version))
    except Refused as exc:
        print(f"release.py {args.command}: REFUSED: {exc}", file=sys.stderr)
        return 2
    except ReleaseError as exc:
        print(f"release.py {args.command}: FAILED: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
