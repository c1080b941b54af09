"""Every workflow of the project is a nox session; a bare `nox` runs what CI needs.

Sessions run on the Python nox runs on, so `nox` works with any CPython 3.11+.
`matrix-3.11` .. `matrix-3.14` run quick tests on each other installed version;
a version that is not installed is skipped and named, not an error (unless
`--error-on-missing-interpreters` is given).
"""

from __future__ import annotations

import os
import shutil
import sys
import tomllib
from pathlib import Path

import nox

ROOT = Path(__file__).parent
sys.path.insert(0, str(ROOT / "tools"))

from interpreters import find_python  # noqa: E402
from pip_to_uv import parse_pip_config, uv_options  # noqa: E402

nox.needs_version = ">=2026.10.20"
nox.options.sessions = [
    "lint",
    "typecheck",
    "validate_spec",
    "check_generated",
    "check_unasync",
    "api_diff",
    "tests",
    "matrix",
    "contract",
    # The README's main job, from a fresh venv: CI proves it on every Python it tests.
    "demo",
    "docs",
    "examples",
    "browser",
]
nox.options.reuse_existing_virtualenvs = True
# nox turns this on whenever CI is set; a plain `nox` (and .ci/run) must not fail
# because a matrix version the user never asked for is absent. `--error-on-missing-interpreters`
# on the command line still wins.
nox.options.error_on_missing_interpreters = False
# Never fetch an interpreter from the network: a missing version is skipped instead.
nox.options.download_python = "never"

MATRIX = ("3.11", "3.12", "3.13", "3.14")
RUNNING = f"{sys.version_info.major}.{sys.version_info.minor}"
LINTED = ["overlay", "tests", "tools", "bench", "noxfile.py"]
WORKFLOWS = [".github/workflows/ci.yml", ".github/workflows/release.yml"]
# The test folders `lowest` leaves out, each with the reason: tooling, not the package
# against its dependencies, or a session of their own. Everything else under tests/
# runs there (a new folder is included by default).
NOT_IN_LOWEST = {
    "tests/contract": "the spec against the code; its own session, `contract`",
    "tests/browser": "the dashboard in a real browser; its own session, `browser`",
    "tests/release": "the release pipeline (build, api_diff, publish)",
    "tests/tools": "codegen, update_spec and the other tools/",
    "tests/bench": "the benchmarks",
    "tests/docs": "the documentation and its example runner",
}
# What `lowest` runs: the unit and integration tests, all of them.
UNIT_AND_INTEGRATION = ["tests", *(f"--ignore={folder}" for folder in NOT_IN_LOWEST)]
# What `matrix` runs on each other Python: the parts that differ between versions
# (models and parsing, sync and async clients, retries, the client against the real
# emulator over HTTP, the demo end to end) in well under a minute, so that a plain `nox`
# stays quick on 2 cores; the whole suite runs on nox's own Python in `tests`.
MATRIX_TESTS = [
    "tests/unit",
    "tests/client",
    "tests/integration/client",
    "tests/cli/test_demo.py",
]


def _runtime_requirements() -> list[str]:
    """The package's dependencies and its `emulator` extra, as pyproject.toml writes them."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [*project["dependencies"], *project["optional-dependencies"]["emulator"]]


def _expose_interpreters() -> None:
    """Put each matrix version that really runs on PATH, ahead of broken shims.

    nox looks for `pythonX.Y` on PATH. A pyenv shim there can exist and still fail
    for a version that is installed but not active, and such a version is not on
    PATH at all: `tools/interpreters.py` finds a working one (PATH, then pyenv's
    versions directory) and a symlink under .nox/ makes nox see that one.
    """
    links = ROOT / ".nox" / "_interpreters"
    links.mkdir(parents=True, exist_ok=True)
    for version in MATRIX:
        link = links / f"python{version}"
        found = find_python(version)
        if found is None or version == RUNNING:
            link.unlink(missing_ok=True)
            continue
        # Replace atomically: another nox in this tree may be reading the link.
        fresh = links / f".python{version}.{os.getpid()}"
        fresh.unlink(missing_ok=True)
        fresh.symlink_to(found)
        fresh.replace(link)
    os.environ["PATH"] = os.pathsep.join([str(links), os.environ.get("PATH", "")])


_expose_interpreters()


def _install_project(session: nox.Session, extras: str = "emulator") -> None:
    session.install("-e", f".[{extras}]" if extras else ".")


def _install_requirements(session: nox.Session, *names: str) -> None:
    """Install pinned requirement sets, e.g. "test" -> requirements/test.txt."""
    args = [arg for name in names for arg in ("-r", f"requirements/{name}.txt")]
    session.install(*args)


@nox.session(python=None)
def generate(session: nox.Session) -> None:
    """Regenerate generated/together_queue_api from openapi.yaml and generator-config.yml."""
    _install_requirements(session, "codegen")
    session.run("python", "tools/codegen.py", "generate")


@nox.session(python=None)
def check_generated(session: nox.Session) -> None:
    """Fail with a diff when generated/ differs from a fresh generation."""
    _install_requirements(session, "codegen")
    session.run("python", "tools/codegen.py", "check")


@nox.session(python=None)
def unasync(session: nox.Session) -> None:
    """Write the sync half (overlay/together_queue/_sync/) from the async source (_async/)."""
    _install_requirements(session, "lint")
    session.run("python", "tools/unasync.py")


@nox.session(python=None)
def check_unasync(session: nox.Session) -> None:
    """Fail with a diff when a sync module differs from a fresh `nox -s unasync`."""
    _install_requirements(session, "lint")
    session.run("python", "tools/unasync.py", "--check")


@nox.session(python=None)
def update_spec(session: nox.Session) -> None:
    """Rebuild openapi.yaml from Together's published document and regenerate (`-- PATH|URL`)."""
    if len(session.posargs) > 1:
        session.error(
            "usage: nox -s update_spec [-- PATH_OR_URL] (default: Together's published "
            "OpenAPI document; a local copy works offline)"
        )
    _install_requirements(session, "spec", "codegen")
    session.run("python", "tools/update_spec.py", *session.posargs)


@nox.session(python=None)
def validate_spec(session: nox.Session) -> None:
    """Validate openapi.yaml with openapi-spec-validator."""
    _install_requirements(session, "spec")
    session.run("openapi-spec-validator", "openapi.yaml")


@nox.session(python=None)
def lint(session: nox.Session) -> None:
    """Ruff on the hand-written code; actionlint and zizmor on the GitHub workflows."""
    _install_requirements(session, "lint")
    session.run("ruff", "check", *LINTED)
    session.run("ruff", "format", "--check", *LINTED)
    session.run("actionlint", "-no-color", *WORKFLOWS)
    # --offline: zizmor's online audits would ask GitHub's API; the offline ones
    # (unpinned actions, excessive permissions, injection, credential persistence) do not.
    session.run("zizmor", "--offline", "--no-progress", *WORKFLOWS)


@nox.session(python=None)
def typecheck(session: nox.Session) -> None:
    """Type-check the overlay and the tests with mypy --strict."""
    _install_requirements(session, "lint", "test", "release", "contract", "bench", "browser")
    _install_project(session)
    session.run("mypy", "--strict", "overlay/together_queue")
    session.run("mypy", "--strict", "tools")
    session.run("mypy", "--strict", "bench")
    session.run("mypy", "--strict", "tests")


@nox.session(python=None)
def tests(session: nox.Session) -> None:
    """Unit and integration tests (integration talks HTTP to the emulator on loopback)."""
    # lint: the tests that run mypy (the README's typed snippet, the examples' type check)
    # must run here, not skip.
    _install_requirements(session, "test", "codegen", "release", "contract", "bench", "lint")
    _install_project(session)
    # tests/contract runs in its own session, so each test runs once under a bare `nox`.
    session.run("pytest", "--ignore=tests/contract", "--ignore=tests/browser", *session.posargs)


CHROMIUM = "/usr/bin/chromium"
"""Debian's chromium, driven by the browser tests (`nox -s browser` installs it if missing)."""


def _install_chromium(session: nox.Session) -> None:
    """Install Debian's chromium with apt-get, as root or through sudo, when that is possible."""
    apt = shutil.which("apt-get")
    as_root: list[str] = []
    if os.geteuid() != 0:
        sudo = shutil.which("sudo")
        if sudo is None:
            return
        as_root = [sudo, "-n"]
    if apt is None:
        return
    session.log("installing Debian's chromium for the browser tests (apt-get)")
    quiet = {"DEBIAN_FRONTEND": "noninteractive"}
    session.run(*as_root, apt, "update", "-qq", external=True, env=quiet, success_codes=[0, 100])
    session.run(
        *as_root,
        apt,
        "install",
        "-y",
        "-qq",
        "chromium",
        external=True,
        env=quiet,
        success_codes=[0, 100],
    )


@nox.session(python=None)
def browser(session: nox.Session) -> None:
    """The dashboard in headless Chromium (Playwright driving Debian's /usr/bin/chromium)."""
    if not Path(CHROMIUM).is_file():
        _install_chromium(session)
    if not Path(CHROMIUM).is_file():
        # Fail, never skip: a missing browser must not pass as a green run.
        session.error(
            f"{CHROMIUM} is missing and could not be installed: install Debian's chromium "
            "(apt-get install -y chromium)"
        )
    session.install(
        "-r",
        "requirements/test.txt",
        "-r",
        "requirements/browser.txt",
        "-c",
        "requirements/contract.txt",
        "openapi-core",
    )
    _install_project(session)
    session.run(
        "pytest", "tests/browser", *session.posargs, env={"TOGETHER_QUEUE_CHROMIUM": CHROMIUM}
    )


@nox.session(python=list(MATRIX))
def matrix(session: nox.Session) -> None:
    """Client, models, emulator round trips and the demo on each CPython 3.11-3.14 present."""
    if session.python == RUNNING:
        # nox runs on this version, so `tests` already runs the whole suite on it.
        session.skip(f"Python {RUNNING} runs nox: the `tests` session runs the whole suite on it")
    # tests/conftest.py checks every exchange with openapi-core: take its pin from
    # contract.txt without the rest (schemathesis), which these tests do not use.
    session.install(
        "-r", "requirements/test.txt", "-c", "requirements/contract.txt", "openapi-core"
    )
    _install_project(session)
    session.run("pytest", *MATRIX_TESTS, *session.posargs)


# A fresh venv each time: uv keeps an installed version that satisfies a requirement,
# so a reused venv holding a newer release would hide the floor.
@nox.session(python=None, reuse_venv=False)
def lowest(session: nox.Session) -> None:
    """Unit and integration tests with the lowest dependency versions pyproject.toml allows."""
    _install_requirements(session, "lowest")
    # uv reads no pip configuration: hand it pip's indexes and find-links, read now.
    pip_config = session.run("python", "-m", "pip", "config", "list", silent=True)
    options = uv_options(parse_pip_config(str(pip_config or "")))
    python = Path(session.bin) / "python"
    # uv may not see the interpreters pip sees: name the session's own one.
    session.run(
        "uv",
        "pip",
        "install",
        "--python",
        str(python),
        "--resolution",
        "lowest-direct",
        *options.args,
        "-e",
        ".[emulator]",
        "-r",
        "requirements/test.txt",
        "-r",
        "requirements/contract.txt",
        env=options.env,
    )
    session.run("python", "tools/check_floors.py", *_runtime_requirements())
    session.run("pytest", *UNIT_AND_INTEGRATION, *session.posargs)


@nox.session(python=None)
def contract(session: nox.Session) -> None:
    """Hold openapi.yaml against the generated models, the overlay's requests and the emulator."""
    _install_requirements(session, "test", "contract")
    _install_project(session)
    session.run("pytest", "tests/contract", *session.posargs)


@nox.session(python=None, reuse_venv=False)
def demo(session: nox.Session) -> None:
    """The README's main job: the demo, from a fresh venv with the emulator extra."""
    session.install(".[emulator]")
    session.run("together-queue", "demo", *session.posargs)


@nox.session(python=None)
def emulator(session: nox.Session) -> None:
    """Run the local Queue emulator (arguments after -- go to it)."""
    _install_project(session)
    session.run("python", "-m", "together_queue.emulator", *session.posargs)


@nox.session(python=None)
def bench(session: nox.Session) -> None:
    """Benchmarks vs raw httpx and the official SDK; writes BENCHMARKS.md (`-- --quick`)."""
    _install_requirements(session, "bench")
    _install_project(session)
    session.run("python", "-m", "bench.run", *session.posargs)


@nox.session(python=None)
def build(session: nox.Session) -> None:
    """Build sdist and wheel into dist/, check them, smoke-test the wheel in a fresh venv."""
    _install_requirements(session, "release")
    session.run("python", "tools/release.py", "build")


@nox.session(python=None)
def publish(session: nox.Session) -> None:
    """Build, check, upload to $TWINE_REPOSITORY_URL; refuse a dirty tree or a known version."""
    _install_requirements(session, "release")
    session.run("python", "tools/release.py", "publish", *session.posargs)


@nox.session(python=None)
def release_prepare(session: nox.Session) -> None:
    """Prepare a release: `-- VERSION`: version, dated CHANGELOG section, API snapshot."""
    if len(session.posargs) not in (1, 3):
        session.error("usage: nox -s release_prepare -- VERSION [--date YYYY-MM-DD]")
    _install_requirements(session, "release")
    session.run("python", "tools/release.py", "prepare", *session.posargs)


@nox.session(python=None)
def api_diff(session: nox.Session) -> None:
    """Fail on a public API break since the last release (api/ snapshot, v* tag, or REF)."""
    _install_requirements(session, "release")
    session.run("python", "tools/release.py", "api-diff", *session.posargs)


@nox.session(python=None)
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


@nox.session(python=None)
def examples(session: nox.Session) -> None:
    """Run every python/bash example of README.md and docs/ against a fresh emulator."""
    # Its own session, not part of `tests`: it type-checks the examples with mypy,
    # which the tests session does not install, and its failures name a Markdown line.
    _install_requirements(session, "test", "lint")
    _install_project(session)
    session.run("python", "tools/run_examples.py", *session.posargs)
