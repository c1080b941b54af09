"""Every workflow of the project is a nox session; a bare `nox` runs what CI needs."""

from __future__ import annotations

from pathlib import Path

import nox

ROOT = Path(__file__).parent
nox.options.sessions = [
    "lint",
    "typecheck",
    "validate_spec",
    "check_generated",
    "api_diff",
    "tests",
    "contract",
    "docs",
    "examples",
]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True

PYTHON = "3.11"
LINTED = ["overlay", "tests", "tools", "bench", "noxfile.py"]


def _install_project(session: nox.Session, extras: str = "emulator") -> None:
    session.install("-e", f".[{extras}]" if extras else ".")


def _install_requirements(session: nox.Session, *names: str) -> None:
    """Install pinned requirement sets, e.g. "test" -> requirements/test.txt."""
    args = [arg for name in names for arg in ("-r", f"requirements/{name}.txt")]
    session.install(*args)


@nox.session(python=PYTHON)
def generate(session: nox.Session) -> None:
    """Regenerate generated/together_queue_api from openapi.yaml and generator-config.yml."""
    _install_requirements(session, "codegen")
    session.run("python", "tools/codegen.py", "generate")


@nox.session(python=PYTHON)
def check_generated(session: nox.Session) -> None:
    """Fail with a diff when generated/ differs from a fresh generation."""
    _install_requirements(session, "codegen")
    session.run("python", "tools/codegen.py", "check")


@nox.session(python=PYTHON)
def update_spec(session: nox.Session) -> None:
    """Rebuild openapi.yaml from a whole upstream document and regenerate: `-- PATH`."""
    if len(session.posargs) != 1:
        session.error(
            "usage: nox -s update_spec -- PATH_TO_UPSTREAM_OPENAPI_DOCUMENT "
            "(e.g. ../shared/spec/upstream/together-openapi-2026-04-08.yaml)"
        )
    _install_requirements(session, "spec", "codegen")
    session.run("python", "tools/update_spec.py", *session.posargs)


@nox.session(python=PYTHON)
def validate_spec(session: nox.Session) -> None:
    """Validate openapi.yaml with openapi-spec-validator."""
    _install_requirements(session, "spec")
    session.run("openapi-spec-validator", "openapi.yaml")


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Ruff lint and format check on the hand-written code."""
    _install_requirements(session, "lint")
    session.run("ruff", "check", *LINTED)
    session.run("ruff", "format", "--check", *LINTED)


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """Type-check the overlay and the tests with mypy --strict."""
    _install_requirements(session, "lint", "test", "release", "contract", "bench")
    _install_project(session)
    session.run("mypy", "--strict", "overlay/together_queue")
    session.run("mypy", "--strict", "tools")
    session.run("mypy", "--strict", "bench")
    session.run("mypy", "--strict", "tests")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Unit and integration tests (integration talks HTTP to the emulator on loopback)."""
    _install_requirements(session, "test", "codegen", "release", "contract", "bench")
    _install_project(session)
    # tests/contract runs in its own session, so each test runs once under a bare `nox`.
    session.run("pytest", "--ignore=tests/contract", *session.posargs)


@nox.session(python=PYTHON)
def contract(session: nox.Session) -> None:
    """Hold openapi.yaml against the generated models, the overlay's requests and the emulator."""
    _install_requirements(session, "test", "contract")
    _install_project(session)
    session.run("pytest", "tests/contract", *session.posargs)


@nox.session(python=PYTHON, reuse_venv=False)
def demo(session: nox.Session) -> None:
    """The README's main job: the demo, from a fresh venv with the emulator extra."""
    session.install(".[emulator]")
    session.run("together-queue", "demo", *session.posargs)


@nox.session(python=PYTHON)
def emulator(session: nox.Session) -> None:
    """Run the local Queue emulator (arguments after -- go to it)."""
    _install_project(session)
    session.run("python", "-m", "together_queue.emulator", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks vs raw httpx and the official SDK; writes BENCHMARKS.md (`-- --quick`)."""
    _install_requirements(session, "bench")
    _install_project(session)
    session.run("python", "-m", "bench.run", *session.posargs)


@nox.session(python=PYTHON)
def build(session: nox.Session) -> None:
    """Build sdist and wheel into dist/, check them, smoke-test the wheel in a fresh venv."""
    _install_requirements(session, "release")
    session.run("python", "tools/release.py", "build")


@nox.session(python=PYTHON)
def publish(session: nox.Session) -> None:
    """Build, check, upload to $TWINE_REPOSITORY_URL; refuse a dirty tree or a known version."""
    _install_requirements(session, "release")
    session.run("python", "tools/release.py", "publish", *session.posargs)


@nox.session(python=PYTHON)
def api_diff(session: nox.Session) -> None:
    """Fail on a public API break since the last v* tag (or REF) without a major version bump."""
    _install_requirements(session, "release")
    session.run("python", "tools/release.py", "api-diff", *session.posargs)


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation site strictly (a broken link or reference fails) into site/."""
    # No install of the project: griffe reads both packages from overlay/ and generated/.
    _install_requirements(session, "docs")
    # NO_MKDOCS_2_WARNING: mkdocs-material prints a banner about its successor on every build.
    session.run(
        "mkdocs",
        "build",
        "--strict",
        "--site-dir",
        str(ROOT / "site"),
        env={"NO_MKDOCS_2_WARNING": "1"},
    )


@nox.session(python=PYTHON)
def examples(session: nox.Session) -> None:
    """Run every python/bash example of README.md and docs/ against a fresh emulator."""
    # Its own session, not part of `tests`: it type-checks the examples with mypy,
    # which the tests session does not install, and its failures name a Markdown line.
    _install_requirements(session, "test", "lint")
    _install_project(session)
    session.run("python", "tools/run_examples.py", *session.posargs)
