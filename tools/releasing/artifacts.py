"""Build the sdist and the wheel, then check them: twine, check-wheel-contents, our own rules."""

from __future__ import annotations

import os
import shutil
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path, PurePosixPath

from packaging.utils import canonicalize_version, parse_sdist_filename, parse_wheel_filename

from releasing.proc import run
from releasing.project import DIST_NAME, PACKAGES, WHEEL_STEM, ReleaseError, read_version

# Tool and test droppings that must never ship (in either artifact).
_CACHE_PARTS = frozenset(
    {"__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis", ".nox"}
)
_CACHE_SUFFIXES = (".pyc", ".pyo")
# The wheel is the installed library: no tests of any kind.
_TEST_PARTS = frozenset({"tests", "test"})
_SDIST_REQUIRED = (
    "PKG-INFO",
    "pyproject.toml",
    "openapi.yaml",
    "generator-config.yml",
    "README.md",
    "LICENSE",
    "CHANGELOG.md",
    "overlay/together_queue/_version.py",
    "generated/together_queue_api/__init__.py",
    # Regenerating generated/ from the sdist needs the pinned generator and its driver.
    "tools/codegen.py",
    "requirements/codegen.txt",
)
# Never in an sdist either: version control, local environments, build output.
_SDIST_FORBIDDEN_TOP = frozenset({".git", ".venv", "dist", "build"})
_ENTRY_POINT = "together-queue = together_queue.cli:main"
# The emulator's dashboard page: data files, which a packaging change could silently drop.
_DASHBOARD_ASSETS = tuple(
    f"together_queue/emulator/dashboard/static/{name}"
    for name in ("index.html", "app.js", "style.css")
)
_EXTRAS = ("emulator",)


@dataclass(frozen=True)
class Artifacts:
    """One build: its sdist, its wheel and the version both carry."""

    sdist: Path
    wheel: Path
    version: str


def build(root: Path, outdir: Path) -> Artifacts:
    """Build the sdist and (from it) the wheel of the project at `root` into `outdir`.

    The build goes to a fresh folder first and only its two files are moved into
    `outdir` (replacing same-named ones): nothing else there is deleted, and stale
    files of other versions can never be mistaken for this build.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(prefix=".build-", dir=outdir))
    try:
        run([sys.executable, "-m", "build", "--outdir", fresh, root], cwd=root)
        built = find_artifacts(fresh, read_version(root))
        placed = []
        for path in (built.sdist, built.wheel):
            placed.append(outdir / path.name)
            os.replace(path, placed[-1])  # same file system: atomic, no copy
    finally:
        shutil.rmtree(fresh, ignore_errors=True)
    return Artifacts(sdist=placed[0], wheel=placed[1], version=built.version)


def find_artifacts(outdir: Path, version: str) -> Artifacts:
    """The single sdist and wheel for `version` in `outdir`; ReleaseError if not exactly so."""
    sdists = sorted(outdir.glob(f"{WHEEL_STEM}-*.tar.gz"))
    wheels = sorted(outdir.glob(f"{WHEEL_STEM}-*.whl"))
    if len(sdists) != 1 or len(wheels) != 1:
        found = ", ".join(p.name for p in sdists + wheels) or "nothing"
        raise ReleaseError(f"expected one sdist and one wheel in {outdir}, found {found}")
    sdist_version = parse_sdist_filename(sdists[0].name)[1]
    _, wheel_version, _, tags = parse_wheel_filename(wheels[0].name)
    wanted = canonicalize_version(version)
    for kind, got in (("sdist", sdist_version), ("wheel", wheel_version)):
        if canonicalize_version(got) != wanted:
            raise ReleaseError(f"the {kind} carries version {got}, the source says {version}")
    if {str(t) for t in tags} != {"py3-none-any"}:
        raise ReleaseError(f"the wheel should be pure Python (py3-none-any), got {wheels[0].name}")
    return Artifacts(sdist=sdists[0], wheel=wheels[0], version=version)


def twine_check(artifacts: Artifacts) -> None:
    """`twine check --strict`: the long description renders and the metadata is complete."""
    run([sys.executable, "-m", "twine", "check", "--strict", artifacts.sdist, artifacts.wheel])


def check_wheel_contents(root: Path, wheel: Path) -> None:
    """check-wheel-contents, told that two top-level packages are intended and what they hold."""
    cmd: list[str | Path] = [sys.executable, "-m", "check_wheel_contents", "--no-config"]
    cmd += ["--toplevel", ",".join(sorted(PACKAGES))]
    for package, folder in sorted(PACKAGES.items()):
        # W201/W202: the wheel holds exactly the files of the source package (caches omitted).
        cmd += ["--package", root / folder / package]
    run([*cmd, wheel])


def _has_cache(parts: tuple[str, ...]) -> bool:
    return bool(_CACHE_PARTS.intersection(parts)) or parts[-1].endswith(_CACHE_SUFFIXES)


def _is_test_module(filename: str) -> bool:
    return filename == "conftest.py" or (filename.startswith("test_") and filename.endswith(".py"))


def wheel_problems(names: list[str], entry_points: str, metadata: str, version: str) -> list[str]:
    """What is wrong with a wheel holding `names`, `entry_points.txt` and `METADATA` texts."""
    problems: list[str] = []
    dist_info = f"{WHEEL_STEM}-{version}.dist-info"
    for name in names:
        parts = PurePosixPath(name).parts
        if _has_cache(parts):
            problems.append(f"cache file in wheel: {name}")
        elif _TEST_PARTS.intersection(parts) or _is_test_module(parts[-1]):
            problems.append(f"test file in wheel: {name}")
        elif parts[0] not in {*PACKAGES, dist_info}:
            problems.append(f"unexpected top-level entry in wheel: {name}")
    for package in PACKAGES:
        for required in ("__init__.py", "py.typed"):
            if f"{package}/{required}" not in names:
                problems.append(f"wheel lacks {package}/{required}")
    problems += [f"wheel lacks {asset}" for asset in _DASHBOARD_ASSETS if asset not in names]
    if not any(n.startswith(f"{dist_info}/licenses/") for n in names):
        problems.append("wheel lacks the license file under .dist-info/licenses/")
    if _ENTRY_POINT not in {line.strip() for line in entry_points.splitlines()}:
        problems.append(f"wheel's entry_points.txt lacks the `{_ENTRY_POINT}` script")
    problems += metadata_problems(metadata, version)
    return problems


def metadata_problems(metadata: str, version: str) -> list[str]:
    """What an index or a user would miss in a core-metadata (METADATA/PKG-INFO) text."""
    meta = HeaderParser().parsestr(metadata)
    problems: list[str] = []
    if meta.get("Name") != DIST_NAME:
        problems.append(f"metadata Name is {meta.get('Name')!r}, not {DIST_NAME!r}")
    if canonicalize_version(str(meta.get("Version"))) != canonicalize_version(version):
        problems.append(f"metadata Version is {meta.get('Version')!r}, not {version!r}")
    for field in ("Summary", "Requires-Python", "License-Expression"):
        if not meta.get(field):
            problems.append(f"metadata lacks {field}")
    if meta.get("Description-Content-Type") != "text/markdown":
        problems.append("metadata lacks Description-Content-Type: text/markdown (the README)")
    if not meta.get_all("Project-URL"):
        problems.append("metadata lacks Project-URL entries")
    if "Typing :: Typed" not in (meta.get_all("Classifier") or []):
        problems.append("metadata lacks the `Typing :: Typed` classifier")
    extras = set(meta.get_all("Provides-Extra") or [])
    problems += [f"metadata lacks the `{e}` extra" for e in _EXTRAS if e not in extras]
    return problems


def sdist_problems(names: list[str], version: str) -> list[str]:
    """What is wrong with an sdist holding the archive member `names`."""
    top = f"{WHEEL_STEM}-{version}"
    problems: list[str] = []
    inside: set[str] = set()
    for name in names:
        parts = PurePosixPath(name).parts
        if parts[0] != top:
            problems.append(f"sdist member outside {top}/: {name}")
            continue
        rest = parts[1:]
        if not rest:
            continue
        inside.add("/".join(rest))
        if _has_cache(rest) or rest[0] in _SDIST_FORBIDDEN_TOP:
            problems.append(f"cache or build file in sdist: {name}")
    problems += [f"sdist lacks {f}" for f in _SDIST_REQUIRED if f not in inside]
    return problems


def check_contents(artifacts: Artifacts) -> None:
    """Apply `wheel_problems` and `sdist_problems`; ReleaseError listing every problem."""
    with zipfile.ZipFile(artifacts.wheel) as whl:
        names = whl.namelist()
        dist_info = f"{WHEEL_STEM}-{artifacts.version}.dist-info"

        def text(member: str) -> str:
            return whl.read(member).decode() if member in names else ""

        problems = wheel_problems(
            names,
            text(f"{dist_info}/entry_points.txt"),
            text(f"{dist_info}/METADATA"),
            artifacts.version,
        )
    with tarfile.open(artifacts.sdist) as sdist:
        problems += sdist_problems(sdist.getnames(), artifacts.version)
    if problems:
        raise ReleaseError("artifact contents check failed:\n  " + "\n  ".join(problems))
    print(f"contents ok: {artifacts.wheel.name} ({len(names)} files), {artifacts.sdist.name}")
