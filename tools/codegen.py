"""Generate `generated/together_queue_api` from openapi.yaml, or check it for drift.

Usage:
    python tools/codegen.py generate [--spec openapi.yaml] [--config generator-config.yml]
    python tools/codegen.py check    [--spec openapi.yaml] [--config generator-config.yml]

The generator renders with the project's templates in templates/ (they override
its own) and always writes into a fresh temporary directory outside the project
(so no ruff or editor configuration around `generated/` can change its output),
then the result is either swapped into place or compared with it.
"""

from __future__ import annotations

import argparse
import difflib
import filecmp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "together_queue_api"
DEFAULT_SPEC = ROOT / "openapi.yaml"
DEFAULT_CONFIG = ROOT / "generator-config.yml"
DEFAULT_OUTPUT = ROOT / "generated" / PACKAGE
# Our overrides of the generator's own templates (lazy package and models __init__):
# part of the input, like the spec and the config, so always passed.
TEMPLATES = ROOT / "templates"
# Written by the post-hooks' ruff run; never part of the package.
IGNORED = {".ruff_cache", "__pycache__"}


class CodegenError(Exception):
    """The generator failed; the message says how."""


def _generator_command() -> list[str]:
    exe = shutil.which("openapi-python-client")
    if exe is None:
        raise CodegenError(
            "openapi-python-client is not installed; run `nox -s generate` "
            "(it installs the pinned version from requirements/codegen.txt)"
        )
    return [exe]


def render(spec: Path, config: Path, workdir: Path) -> Path:
    """Run the generator for `spec` into `workdir`; return the package directory."""
    out = workdir / PACKAGE
    cmd = [
        *_generator_command(),
        "generate",
        "--path",
        str(spec),
        "--config",
        str(config),
        "--meta",
        "none",
        "--output-path",
        str(out),
        "--custom-template-path",
        str(TEMPLATES),
        "--overwrite",
        "--fail-on-warning",
    ]
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not (out / "__init__.py").is_file():
        detail = (proc.stdout + proc.stderr).strip()
        raise CodegenError(f"openapi-python-client failed on {spec}:\n{detail}")
    for junk in IGNORED:
        for path in list(out.rglob(junk)):
            shutil.rmtree(path, ignore_errors=True)
    # The generator leaves no marker of its own; py.typed makes the package typed (PEP 561).
    (out / "py.typed").write_text("")
    return out


def _files(tree: Path) -> dict[str, Path]:
    return {
        p.relative_to(tree).as_posix(): p
        for p in sorted(tree.rglob("*"))
        if p.is_file() and not IGNORED.intersection(p.relative_to(tree).parts)
    }


def diff_trees(expected: Path, actual: Path) -> list[str]:
    """Unified diff lines turning `actual` (committed) into `expected` (fresh)."""
    want, have = _files(expected), _files(actual)
    lines: list[str] = []
    for name in sorted(want.keys() | have.keys()):
        a, b = have.get(name), want.get(name)
        if a is not None and b is not None and filecmp.cmp(a, b, shallow=False):
            continue
        old = a.read_text().splitlines(keepends=True) if a else []
        new = b.read_text().splitlines(keepends=True) if b else []
        lines.extend(
            difflib.unified_diff(
                old,
                new,
                fromfile=f"committed/{name}" if a else "/dev/null",
                tofile=f"regenerated/{name}" if b else "/dev/null",
            )
        )
    return lines


def generate(spec: Path, config: Path, output: Path) -> bool:
    """Regenerate `output`; return True when any file changed."""
    with tempfile.TemporaryDirectory(prefix="tq-gen-") as tmp:
        fresh = render(spec, config, Path(tmp))
        if output.exists() and not diff_trees(fresh, output):
            return False
        output.parent.mkdir(parents=True, exist_ok=True)
        # Swap in one rename so an interrupted run never leaves half a package.
        staged = output.parent / f".{output.name}.new"
        shutil.rmtree(staged, ignore_errors=True)
        shutil.copytree(fresh, staged)
        old = output.parent / f".{output.name}.old"
        shutil.rmtree(old, ignore_errors=True)
        if output.exists():
            output.rename(old)
        staged.rename(output)
        shutil.rmtree(old, ignore_errors=True)
        return True


def check(spec: Path, config: Path, output: Path) -> list[str]:
    """Diff lines between `output` and a fresh generation; empty when in sync."""
    with tempfile.TemporaryDirectory(prefix="tq-check-") as tmp:
        fresh = render(spec, config, Path(tmp))
        if not output.exists():
            return [f"{output} does not exist; run `nox -s generate`\n"]
        return diff_trees(fresh, output)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["generate", "check"])
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    try:
        if args.command == "generate":
            changed = generate(args.spec, args.config, args.output)
            print(f"{args.output}: {'regenerated' if changed else 'unchanged'}")
            return 0
        lines = check(args.spec, args.config, args.output)
    except CodegenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if lines:
        sys.stdout.writelines(lines)
        print(
            f"\nerror: {args.output} is out of date with {args.spec.name}; "
            "run `nox -s generate` and commit the result",
            file=sys.stderr,
        )
        return 1
    print(f"{args.output}: in sync with {args.spec.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
