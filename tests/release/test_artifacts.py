"""The contents rules for the wheel and the sdist catch what must never ship, and what must."""

from __future__ import annotations

from pathlib import Path

import pytest
from releasing import artifacts
from releasing.artifacts import metadata_problems, sdist_problems, wheel_problems

VERSION = "1.2.0"
DIST_INFO = f"together_queue-{VERSION}.dist-info"
GOOD_WHEEL = [
    "together_queue/__init__.py",
    "together_queue/py.typed",
    "together_queue/client.py",
    "together_queue/testing.py",  # pytest fixtures for users: part of the library
    "together_queue/emulator/__init__.py",
    "together_queue/emulator/dashboard/static/index.html",
    "together_queue/emulator/dashboard/static/app.js",
    "together_queue/emulator/dashboard/static/style.css",
    "together_queue_api/__init__.py",
    "together_queue_api/py.typed",
    "together_queue_api/api/queue/submit_queue_job.py",
    f"{DIST_INFO}/METADATA",
    f"{DIST_INFO}/WHEEL",
    f"{DIST_INFO}/entry_points.txt",
    f"{DIST_INFO}/licenses/LICENSE",
    f"{DIST_INFO}/RECORD",
]
ENTRY_POINTS = "[console_scripts]\ntogether-queue = together_queue.cli:main\n"
METADATA = f"""\
Metadata-Version: 2.4
Name: together-queue
Version: {VERSION}
Summary: A client.
Project-URL: Source, https://example.invalid/src
License-Expression: MIT
License-File: LICENSE
Classifier: Typing :: Typed
Requires-Python: >=3.11
Provides-Extra: emulator
Description-Content-Type: text/markdown

# together-queue
"""
TOP = f"together_queue-{VERSION}"
GOOD_SDIST = [
    TOP,
    *(
        f"{TOP}/{name}"
        for name in (
            "PKG-INFO",
            "pyproject.toml",
            "openapi.yaml",
            "generator-config.yml",
            "README.md",
            "LICENSE",
            "CHANGELOG.md",
            "overlay/together_queue/_version.py",
            "generated/together_queue_api/__init__.py",
            "tools/codegen.py",
            "requirements/codegen.txt",
            "tests/unit/test_client.py",  # tests belong in the sdist
        )
    ),
]


def test_a_good_wheel_and_sdist_have_no_problems() -> None:
    assert wheel_problems(GOOD_WHEEL, ENTRY_POINTS, METADATA, VERSION) == []
    assert sdist_problems(GOOD_SDIST, VERSION) == []


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ("together_queue/__pycache__/client.cpython-311.pyc", "cache file"),
        ("together_queue_api/models/thing.pyc", "cache file"),
        ("together_queue/.mypy_cache/3.11/x.json", "cache file"),
        ("tests/unit/test_client.py", "test file"),
        ("together_queue/tests/test_client.py", "test file"),
        ("together_queue/test_jobs.py", "test file"),
        ("together_queue/conftest.py", "test file"),
        ("tools/codegen.py", "unexpected top-level entry"),
        ("openapi.yaml", "unexpected top-level entry"),
    ],
)
def test_wheel_rejects_caches_tests_and_strays(extra: str, problem: str) -> None:
    problems = wheel_problems([*GOOD_WHEEL, extra], ENTRY_POINTS, METADATA, VERSION)

    assert problems == [f"{problem} in wheel: {extra}"]


@pytest.mark.parametrize(
    ("missing", "problem"),
    [
        ("together_queue/py.typed", "wheel lacks together_queue/py.typed"),
        ("together_queue_api/py.typed", "wheel lacks together_queue_api/py.typed"),
        (
            "together_queue/emulator/dashboard/static/app.js",
            "wheel lacks together_queue/emulator/dashboard/static/app.js",
        ),
        (
            f"{DIST_INFO}/licenses/LICENSE",
            "wheel lacks the license file under .dist-info/licenses/",
        ),
    ],
)
def test_wheel_requires_typed_markers_and_license(missing: str, problem: str) -> None:
    names = [n for n in GOOD_WHEEL if n != missing]

    assert wheel_problems(names, ENTRY_POINTS, METADATA, VERSION) == [problem]


def test_wheel_requires_the_console_script() -> None:
    problems = wheel_problems(GOOD_WHEEL, "[console_scripts]\n", METADATA, VERSION)

    assert problems == [
        "wheel's entry_points.txt lacks the `together-queue = together_queue.cli:main` script"
    ]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("Name: together-queue", "metadata Name is None"),
        (f"Version: {VERSION}", "metadata Version is None"),
        ("Requires-Python: >=3.11", "metadata lacks Requires-Python"),
        ("License-Expression: MIT", "metadata lacks License-Expression"),
        ("Project-URL: Source, https://example.invalid/src", "metadata lacks Project-URL"),
        ("Classifier: Typing :: Typed", "metadata lacks the `Typing :: Typed` classifier"),
        ("Provides-Extra: emulator", "metadata lacks the `emulator` extra"),
        ("Description-Content-Type: text/markdown", "metadata lacks Description-Content-Type"),
    ],
)
def test_metadata_requires_what_indexes_and_users_read(line: str, problem: str) -> None:
    metadata = METADATA.replace(line + "\n", "")
    assert metadata != METADATA

    problems = metadata_problems(metadata, VERSION)

    assert len(problems) == 1
    assert problems[0].startswith(problem)


def test_metadata_version_must_match_the_source() -> None:
    assert metadata_problems(METADATA, "1.2.1") == ["metadata Version is '1.2.0', not '1.2.1'"]


@pytest.mark.parametrize(
    "missing",
    [
        "openapi.yaml",
        "generator-config.yml",
        "tools/codegen.py",
        "requirements/codegen.txt",
        "README.md",
        "LICENSE",
        "CHANGELOG.md",
    ],
)
def test_sdist_must_hold_what_rebuilding_and_regenerating_need(missing: str) -> None:
    names = [n for n in GOOD_SDIST if n != f"{TOP}/{missing}"]

    assert sdist_problems(names, VERSION) == [f"sdist lacks {missing}"]


@pytest.mark.parametrize(
    "extra",
    [
        f"{TOP}/overlay/together_queue/__pycache__/jobs.cpython-311.pyc",
        f"{TOP}/.ruff_cache/CACHEDIR.TAG",
        f"{TOP}/.hypothesis/examples/x",
        f"{TOP}/dist/together_queue-1.1.0.tar.gz",
        f"{TOP}/.git/HEAD",
    ],
)
def test_sdist_rejects_caches_and_build_output(extra: str) -> None:
    assert sdist_problems([*GOOD_SDIST, extra], VERSION) == [
        f"cache or build file in sdist: {extra}"
    ]


def test_sdist_members_must_sit_under_the_versioned_folder() -> None:
    problems = sdist_problems([*GOOD_SDIST, "together_queue-1.1.0/README.md"], VERSION)

    assert problems == [f"sdist member outside {TOP}/: together_queue-1.1.0/README.md"]


def test_build_into_dist_deletes_only_what_it_replaces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stand-in for `python -m build`: it writes the two files where it is told to.
    def fake_build(cmd: list[object], **_: object) -> str:
        out = Path(str(cmd[cmd.index("--outdir") + 1]))
        (out / f"together_queue-{VERSION}.tar.gz").write_text("new sdist")
        (out / f"together_queue-{VERSION}-py3-none-any.whl").write_text("new wheel")
        return ""

    monkeypatch.setattr(artifacts, "run", fake_build)
    monkeypatch.setattr(artifacts, "read_version", lambda root: VERSION)
    dist = tmp_path / "dist"
    dist.mkdir()
    keep = [dist / "notes.txt", dist / "together_queue-0.0.1.tar.gz"]
    for path in keep:
        path.write_text("not ours")
    (dist / f"together_queue-{VERSION}.tar.gz").write_text("an older build of this version")

    built = artifacts.build(tmp_path, dist)

    assert all(path.read_text() == "not ours" for path in keep)
    assert built.sdist == dist / f"together_queue-{VERSION}.tar.gz"
    assert built.sdist.read_text() == "new sdist"
    assert built.wheel.read_text() == "new wheel"
    assert sorted(p.name for p in dist.iterdir()) == sorted(
        [*(p.name for p in keep), built.sdist.name, built.wheel.name]
    )  # the temporary build folder is gone too
